"""helm test: run one task through the sample TaskQueue, end to end.

Logs in (the bootstrap admin when its credentials are configured, else a fresh user),
enqueues a task on the smoke queue (retrying until the operator has registered the
queue), then polls the task until the queue's workers have completed it. Standard
library only, so it runs in the task-service image.
"""

import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

API = os.environ["TASKPLANE_API_URL"].rstrip("/")
AUTH = os.environ["TASKPLANE_AUTH_URL"].rstrip("/")
QUEUE = os.environ["TASKPLANE_SMOKE_QUEUE"]
DEADLINE = time.monotonic() + int(os.environ.get("TASKPLANE_SMOKE_TIMEOUT", "240"))


def call(method, url, body=None, token=None, form=False):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None and form:
        data = urllib.parse.urlencode(body).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def login():
    email = os.environ.get("TASKPLANE_ADMIN_EMAIL")
    password = os.environ.get("TASKPLANE_ADMIN_PASSWORD")
    if not (email and password):
        email = f"helm-test-{secrets.token_hex(4)}@example.com"
        password = secrets.token_urlsafe(18) + "Aa1!"
        status, body = call("POST", f"{AUTH}/api/v1/auth/register",
                            {"email": email, "password": password, "full_name": "helm test"})
        print("register", status)
        if status != 201:
            sys.exit(f"register failed: {status} {body}")
    status, body = call("POST", f"{AUTH}/api/v1/auth/token",
                        {"username": email, "password": password}, form=True)
    if status != 200:
        sys.exit(f"login failed: {status} {body}")
    return body["access_token"]


def main():
    token = login()
    run = secrets.token_hex(6)
    task_id = None
    while task_id is None:
        status, body = call("POST", f"{API}/api/v1/queues/{QUEUE}/tasks",
                            {"payload": {"smoke": run}, "title": f"helm test {run}"}, token)
        print("enqueue", status)
        if status in (200, 201):
            task = body["tasks"][0] if isinstance(body, dict) and "tasks" in body else body
            task_id = task["id"]
        elif time.monotonic() > DEADLINE:
            sys.exit(f"could not enqueue on {QUEUE}: {status} {body}")
        else:
            time.sleep(3)  # the operator may not have registered the queue yet
    while True:
        status, body = call("GET", f"{API}/api/v1/tasks/{task_id}", token=token)
        state = body.get("status") if isinstance(body, dict) else None
        print("task", task_id, status, state)
        if state == "completed":
            print("smoke test passed")
            return
        if state in ("dead", "cancelled"):
            sys.exit(f"task ended {state}: {body}")
        if time.monotonic() > DEADLINE:
            sys.exit(f"task {task_id} not completed in time (last status {state})")
        time.sleep(2)


if __name__ == "__main__":
    main()
