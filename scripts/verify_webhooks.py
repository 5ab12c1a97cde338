"""Verifies webhook requests with the independent `standardwebhooks` package (PyPI).

Reads a JSON file: a list of {"secret", "headers", "body"}; prints a JSON list with, for each,
"ok" or the library's error. The tests call it on what their receiving server got, so our
signing is never checked against itself.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

out = []
with open(sys.argv[1], encoding="utf-8") as f:
    for item in json.load(f):
        try:
            Webhook(item["secret"]).verify(item["body"], item["headers"])
            out.append("ok")
        except WebhookVerificationError as e:
            out.append("refused: " + str(e))
print(json.dumps(out))
