"""axe-core (node_modules/axe-core) run in a page, from the console's own origin.

Playwright's add_script_tag(path=...) inlines the file, which the console's CSP (script-src
'self', no inline script) refuses. Instead the script is requested from a path on the console's
origin that the browser context answers itself with the file (page.route), so the audit runs
under the same policy as every page script, with nothing loosened.
"""

import json

from tests.conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__test__/axe.min.js"
SERIOUS = ("serious", "critical")


def serve_axe(context, base_url: str) -> None:
    body = AXE.read_bytes()
    context.route(f"{base_url}{AXE_PATH}",
                  lambda route: route.fulfill(status=200, body=body, content_type="text/javascript"))


def audit(page, base_url: str) -> list[dict]:
    """The serious and critical WCAG 2.1 A/AA violations axe finds on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(url=f"{base_url}{AXE_PATH}")
    result = page.evaluate("""async () => {
      const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })) }));
    }""")
    return [violation for violation in result if violation["impact"] in SERIOUS]


def assert_accessible(page, base_url: str) -> None:
    violations = audit(page, base_url)
    assert violations == [], f"axe on {page.url}:\n{json.dumps(violations, indent=1, ensure_ascii=False)}"
