#!/usr/bin/env python3
"""Seeds a running instance for scripts/api-check.sh and writes the schemathesis config.

Without real identifiers, nearly every generated request for `/partners/{id}/...` and the like
ends in a 404 and the answers the document describes are never checked. So this connects the
instance to the Network simulator, creates through the API a program shared on the Network, two
partners with a link, a click and a commission, keys, a creator and an application, then writes
a schemathesis.toml whose dictionaries feed those identifiers into the matching parameters (with
a probability, so unknown identifiers are still tried).

Usage: api_check_seed.py BASE_URL SIM_URL ADMIN_KEY CONFIG_OUT CACHE_DIR
(CACHE_DIR keeps schemathesis' record of past failures, which it replays first.)
"""

import json
import sys
import urllib.error
import urllib.request

BASE, SIM, ADMIN_KEY, CONFIG_OUT, CACHE_DIR = sys.argv[1:6]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(method, url, body=None, key=ADMIN_KEY, expect=(200, 201, 202)):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with OPENER.open(req, timeout=10) as res:
            status, headers, raw = res.status, res.headers, res.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    if status not in expect:
        sys.exit(f"api-check seed: {method} {url} answered {status}: {raw[:300]!r}")
    return (json.loads(raw) if raw and headers.get_content_type() == "application/json" else None), headers


def api(method, path, body=None, **kw):
    return call(method, BASE + path, body, **kw)[0]


vendor = api("POST", "/config/network/auto-enroll")["vendorId"]
program = api(
    "POST",
    "/programs",
    {
        "name": "API check",
        "destinationUrl": "https://example.com/landing",
        "commission": {"type": "percent", "value": 10},
        "shareOnNetwork": True,
        "marketplaceDescription": "A program the API check creates.",
    },
)["id"]
partners, links, clicks = [], [], []
for n in (1, 2):
    partner = api(
        "POST",
        "/partners",
        {"email": f"partner{n}@api-check.test", "name": f"Partner {n}", "sendInvite": False, "programIds": [program]},
    )["id"]
    partners.append(partner)
    key = f"apicheck{n}"
    api("POST", f"/partners/{partner}/links", {"linkKey": key, "programId": program})
    links.append(key)
    _, headers = call("GET", f"{BASE}/r/{key}", key=None, expect=(302,))
    clicks.append(headers["Location"].split("op_click=")[1].split("&")[0].split("#")[0])
api("POST", "/events", {"externalEventId": "api-check-sale-1", "type": "sale", "value": "120.00", "currency": "USD", "clickId": clicks[0]})
commissions = [c["id"] for c in api("GET", "/commissions")["commissions"]]
scoped_keys = [api("POST", "/api-keys/scoped", {"scopes": ["partners:read"], "label": "api check"})["id"]]
# A partner of its own for key deletion: revoking a partner ends its keys.
key_owner = api("POST", "/partners", {"email": "keys@api-check.test", "name": "Key owner", "sendInvite": False})["id"]
partner_keys = [api("POST", f"/partners/{key_owner}/api-keys", {"label": f"api check {n}"})["id"] for n in range(5)]

call("POST", f"{SIM}/_sim/creators", {"email": "creator@api-check.test", "name": "Creator"}, key=None)
creators = [c["id"] for c in (api("GET", "/admin/network/discover/creators") or {}).get("creators", [])]
offerings = [o["id"] for o in (api("GET", "/admin/network/offerings") or {}).get("offerings", [])]
request = call(
    "POST",
    f"{SIM}/_sim/requests",
    {"vendorId": vendor, "offeringId": offerings[0] if offerings else None, "email": "applicant@api-check.test", "name": "Applicant"},
    key=None,
)[0]
requests = [request["id"]] if request and "id" in request else []


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


dictionaries = {
    "partners": partners,
    "programs": [program],
    "links": links,
    "clicks": clicks,
    "commissions": commissions,
    "scoped-keys": scoped_keys,
    "partner-keys": partner_keys,
    "key-owner": [key_owner],
    # Fresh addresses: the document does not constrain emails, so generated ones are refused.
    "emails": [f"new{n}@api-check.test" for n in range(100)],
    "creators": creators,
    "offerings": offerings,
    "requests": requests,
}
# (path regex, {parameter: dictionary})
bindings = [
    (r"^/partners/\{id\}(/(api-keys|approve|commission-snapshot|commissions|dashboard|invite|reinstate|revoke))?$", {"path.id": "partners"}),
    (r"^/partners/\{id\}/api-keys/\{key_id\}$", {"path.id": "key-owner", "path.key_id": "partner-keys"}),
    (r"^/partners/\{id\}/links$", {"path.id": "partners", "body.programId": "programs"}),
    (r"^/(partners|partner-signup|auth/signin)$", {"body.email": "emails"}),
    (r"^/config/network/start-connect$", {"body.contactEmail": "emails"}),
    (r"^/admin/partners/\{id\}$", {"path.id": "partners"}),
    (r"^/programs/\{id\}$", {"path.id": "programs"}),
    (r"^/commissions/\{id\}/", {"path.id": "commissions"}),
    (r"^/api-keys/\{id\}$", {"path.id": "scoped-keys"}),
    (r"^/r/\{link_key\}$", {"path.link_key": "links"}),
    (r"^/clicks$", {"body.linkKey": "links"}),
    (r"^/(events|identify)$", {"body.clickId": "clicks"}),
    (r"^/admin/network/offerings/\{id\}/", {"path.id": "offerings", "body.creatorId": "creators"}),
    (r"^/admin/network/requests/\{id\}/", {"path.id": "requests", "body.programId": "programs"}),
]
lines = ["[cache]", f"directory = {json.dumps(CACHE_DIR)}", "", "[dictionaries]"]
for name, values in dictionaries.items():
    if values:
        lines.append(f"{name} = {{ values = {toml_list(values)} }}")
for regex, params in bindings:
    usable = {p: d for p, d in params.items() if dictionaries[d]}
    if not usable:
        continue
    lines += ["", "[[operations]]", f"include-path-regex = {json.dumps(regex)}", "[operations.parameters]"]
    lines += [f'"{p}" = {{ dictionary = "{d}", probability = 0.7 }}' for p, d in usable.items()]
with open(CONFIG_OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print(
    f"api-check seed: vendor {vendor}, program {program}, {len(partners)} partners, {len(commissions)} commissions, "
    f"{len(creators)} creators, {len(offerings)} offerings, {len(requests)} requests"
)
