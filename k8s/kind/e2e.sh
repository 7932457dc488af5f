#!/usr/bin/env bash
# End to end on kind (make kind-test), beyond `helm test`: the sample TaskQueue that
# `make kind-up` applied in its own namespace (no Secret was put there: the workers
# authenticate with their projected ServiceAccount tokens), its operator-started
# workers, a task enqueued through the API with curl and completed by a worker.
# Needs kubectl, curl and python3.
set -euo pipefail
NS=${KIND_NAMESPACE:-taskplane}
RELEASE=${KIND_RELEASE:-taskplane}
QUEUE_NS=${KIND_QUEUE_NAMESPACE:-demo}
PORT_API=${API_LOCAL_PORT:-18003}
PORT_AUTH=${AUTH_LOCAL_PORT:-18001}
SAMPLE=${SAMPLE:-k8s/samples/taskqueue-noop.yaml}

kubectl create namespace "$QUEUE_NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -n "$QUEUE_NS" -f "$SAMPLE"
QUEUE_OBJ=$(kubectl get -n "$QUEUE_NS" taskqueues -o jsonpath='{.items[0].metadata.name}')
QUEUE=$(kubectl get -n "$QUEUE_NS" taskqueue "$QUEUE_OBJ" -o jsonpath='{.spec.queueName}')
QUEUE=${QUEUE:-$QUEUE_NS.$QUEUE_OBJ}
echo "waiting for TaskQueue $QUEUE_OBJ (queue $QUEUE) to be Ready"
kubectl wait -n "$QUEUE_NS" "taskqueue/$QUEUE_OBJ" --for=condition=Ready --timeout=300s
if [ -n "$(kubectl get -n "$QUEUE_NS" secrets -o name)" ]; then
  echo "e2e failed: a Secret appeared in $QUEUE_NS" >&2
  exit 1
fi

kubectl -n "$NS" port-forward "svc/$RELEASE-task-service" "$PORT_API:8003" >/dev/null 2>&1 &
PF1=$!
kubectl -n "$NS" port-forward "svc/$RELEASE-auth-service" "$PORT_AUTH:8001" >/dev/null 2>&1 &
PF2=$!
trap 'kill $PF1 $PF2 2>/dev/null || true' EXIT
sleep 3

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'d': d}))" "$1"; }
EMAIL=$(kubectl -n "$NS" get secret "$RELEASE-taskplane" -o jsonpath='{.data.auth-bootstrap-admin-email}' | base64 -d)
PASSWORD=$(kubectl -n "$NS" get secret "$RELEASE-taskplane" -o jsonpath='{.data.auth-bootstrap-admin-password}' | base64 -d)
TOKEN=$(curl -fsS -X POST "localhost:$PORT_AUTH/api/v1/auth/token" \
  --data-urlencode "username=$EMAIL" --data-urlencode "password=$PASSWORD" | json "d['access_token']")
TASK=$(curl -fsS -X POST "localhost:$PORT_API/api/v1/queues/$QUEUE/tasks" \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"payload": {"hello": "kind"}, "title": "kind e2e"}' \
  | json "(d['tasks'][0] if 'tasks' in d else d)['id']")
echo "enqueued task $TASK"
for _ in $(seq 120); do
  STATUS=$(curl -fsS "localhost:$PORT_API/api/v1/tasks/$TASK" -H "Authorization: Bearer $TOKEN" | json "d['status']")
  echo "task $TASK: $STATUS"
  case $STATUS in
    completed) echo "e2e passed"; exit 0 ;;
    dead|cancelled) echo "e2e failed: task $STATUS" >&2; exit 1 ;;
  esac
  sleep 2
done
echo "e2e failed: task not completed in time" >&2
exit 1
