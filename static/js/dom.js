// Builds DOM nodes from data without ever parsing HTML: attributes go through setAttribute and
// text through text nodes, so whatever a person typed is shown as typed and never runs.
//   h("a", { href: url, class: "x" }, "text", childNode, null)
// Attributes that are null, undefined or false are left out; true sets an empty attribute.
// Children may be nodes, strings, numbers, arrays of those, or null/false (skipped).
export function h(name, attrs = {}, ...children) {
  const node = document.createElement(name);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
