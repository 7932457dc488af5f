#!/usr/bin/env bash
# After `helm install` on kind: log in as the bootstrap admin (k8s/values-dev.yaml),
# create the three service tokens the platform needs, and hand them over:
#   - queues:work  -> Secret taskplane-worker-token (key "token") for the worker pods
#   - queues:admin -> global.secrets.values.operator-token for the operator (helm upgrade)
#   - events:read users:read -> global.secrets.values.notification-token (helm upgrade)
# Needs kubectl, helm, curl and python3 on the PATH. Used by `make kind-up`.
set -euo pipefail
NS=${KIND_NAMESPACE:-taskplane}
RELEASE=${KIND_RELEASE:-taskplane}
CHART=${CHART:-charts/taskplane}
VALUES=${VALUES:-k8s/values-dev.yaml}
PORT=${AUTH_LOCAL_PORT:-18001}
EMAIL=$(python3 -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["global"]["secrets"]["values"]["auth-bootstrap-admin-email"])' "$VALUES" 2>/dev/null || echo admin@taskplane.local)
PASSWORD=$(kubectl -n "$NS" get secret "$RELEASE-taskplane" -o jsonpath='{.data.auth-bootstrap-admin-password}' | base64 -d)

kubectl -n "$NS" port-forward "svc/$RELEASE-auth-service" "$PORT:8001" >/dev/null 2>&1 &
PF=$!
trap 'kill $PF 2>/dev/null || true' EXIT
for _ in $(seq 30); do curl -fsS "localhost:$PORT/readyz" >/dev/null 2>&1 && break; sleep 2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
ADMIN=$(curl -fsS -X POST "localhost:$PORT/api/v1/auth/token" \
  --data-urlencode "username=$EMAIL" --data-urlencode "password=$PASSWORD" | json access_token)
mint() {
  curl -fsS -X POST "localhost:$PORT/api/v1/admin/service-tokens" \
    -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d "{\"name\": \"$1\", \"scopes\": $2}" | json token
}
WORKER_TOKEN=$(mint "kind-workers-$(date +%s)" '["queues:work"]')
OPERATOR_TOKEN=$(mint "kind-operator-$(date +%s)" '["queues:admin"]')
NOTIFICATION_TOKEN=$(mint "kind-notification-$(date +%s)" '["events:read", "users:read"]')

kubectl -n "$NS" create secret generic taskplane-worker-token \
  --from-literal=token="$WORKER_TOKEN" --dry-run=client -o yaml | kubectl apply -f -
helm upgrade "$RELEASE" "$CHART" -n "$NS" -f "$VALUES" --reuse-values \
  --set-string "global.secrets.values.operator-token=$OPERATOR_TOKEN" \
  --set-string "global.secrets.values.notification-token=$NOTIFICATION_TOKEN" --wait --timeout 10m
echo "service tokens installed (worker Secret taskplane-worker-token, operator and notification tokens via helm)"
