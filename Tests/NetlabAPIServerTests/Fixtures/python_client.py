"""Drives the lab API with PyPI's `kubernetes` client; prints one JSON object of what it saw.

usage: python3 python_client.py PORT
"""
import json
import sys

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

cfg = client.Configuration()
cfg.host = "http://127.0.0.1:%s" % sys.argv[1]
api = client.CoreV1Api(client.ApiClient(cfg))
out = {}

# Lists with selectors.
listed = api.list_namespaced_service("default", label_selector="app in (x)")
out["labelled"] = sorted(s.metadata.name for s in listed.items)
out["named"] = [s.metadata.name for s in api.list_service_for_all_namespaces(field_selector="metadata.name=web").items]
try:
    api.list_namespaced_service("default", field_selector="spec.selector=x")
    out["badField"] = None
except ApiException as e:
    out["badField"] = e.status
rv = listed.metadata.resource_version

# Writes through the client, then a watch that resumes from the list's resourceVersion sees them.
body = client.V1Service(metadata=client.V1ObjectMeta(name="py", labels={"app": "py"}),
                        spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)]))
api.create_namespaced_service("default", body)
api.patch_namespaced_service("py", "default", {"metadata": {"labels": {"step": "2"}}})
api.delete_namespaced_service("py", "default")
events = []
w = watch.Watch()
for e in w.stream(api.list_namespaced_service, "default", resource_version=rv, timeout_seconds=10):
    events.append([e["type"], e["object"].metadata.name, (e["object"].metadata.labels or {}).get("step")])
    if len(events) == 3:
        w.stop()
out["resumed"] = events

# Bookmarks, when allowed (the server sends them on its timer).
w = watch.Watch()
out["bookmark"] = False
for e in w.stream(api.list_namespaced_service, "default", resource_version=api.list_namespaced_service("default").metadata.resource_version,
                  allow_watch_bookmarks=True, timeout_seconds=10):
    if e["type"] == "BOOKMARK":
        out["bookmark"] = True
        w.stop()

# A resourceVersion the server no longer keeps: 410, then recover by listing again.
try:
    for e in watch.Watch().stream(api.list_namespaced_service, "default", resource_version="1", timeout_seconds=10):
        out["expiredEvent"] = e["type"]
        break
except ApiException as e:
    out["gone"] = e.status
    out["relisted"] = len(api.list_namespaced_service("default").items)

print(json.dumps(out))
