from django.urls import path

from . import audit_views, orphan_views

urlpatterns = [
    path("", audit_views.audit_home, name="audit_home"),
    path("log/", audit_views.audit_log, name="audit_log"),
    path("orphans/<id:pk>/adopt/", orphan_views.orphan_adopt, name="orphan_adopt"),
    path("orphans/<id:pk>/close/", orphan_views.orphan_close, name="orphan_close"),
]

for _scope in ("account", "project", "asset"):
    urlpatterns += [
        path(f"{_scope}s/", audit_views.audit_groups, {"scope": _scope}, name=f"audit_{_scope}s"),
        path(f"{_scope}s/<id:pk>/", audit_views.audit_history, {"scope": _scope}, name=f"audit_{_scope}_history"),
        path(f"{_scope}s/<id:pk>/live/", audit_views.audit_live, {"scope": _scope}, name=f"audit_{_scope}_live"),
        path(f"{_scope}s/<id:pk>/export.csv", audit_views.audit_export, {"scope": _scope},
             name=f"audit_{_scope}_export"),
    ]
