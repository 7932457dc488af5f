{{/*
Defaults every component starts from; a subchart's values (and the umbrella's
"<component>:" section) override them key by key. Keeping them here is what keeps the
service subcharts thin: a subchart only states its identity (name, module, ports)
and its own env.

Sizing (resources): the FastAPI services measure 80-120 MiB RSS at steady state
(uvicorn, one worker, SQLAlchemy pool of 5, OpenTelemetry SDK). The request is the
steady state plus ~10 %; the limit is about twice the peak so a burst of large
responses or a GC pause does not OOM-kill the pod. CPU: 100m covers idle plus
health checks and scrapes; the 1-core limit is one uvicorn worker's ceiling.
*/}}
{{- define "taskplane.component.defaults" -}}
enabled: true
replicaCount: 2
image:
  repository: ""
  tag: ""
  # Always: every start re-checks registry credentials and picks up a re-pushed tag.
  # kind (k8s/values-dev.yaml) uses IfNotPresent for images loaded with `kind load`.
  pullPolicy: Always
command: []
args:
  - serve
env: {}
secretEnv: {}
resources:
  requests:
    cpu: 100m
    memory: 128Mi
  limits:
    cpu: "1"
    memory: 256Mi
probes:
  liveness:
    path: /healthz
    port: http
    periodSeconds: 10
    timeoutSeconds: 2
    failureThreshold: 3
  readiness:
    path: /readyz
    port: http
    periodSeconds: 5
    timeoutSeconds: 2
    failureThreshold: 3
  startup:
    path: /healthz
    port: http
    periodSeconds: 2
    timeoutSeconds: 2
    failureThreshold: 30
autoscaling:
  enabled: true
  minReplicas: 2
  maxReplicas: 6
  targetCPUUtilizationPercentage: 70
podDisruptionBudget:
  enabled: true
  maxUnavailable: 1
topologySpread:
  enabled: true
  maxSkew: 1
serviceMonitor:
  enabled: true
  interval: 30s
  scrapeTimeout: 10s
networkPolicy:
  extraIngress: []
  extraEgress: []
service:
  type: ClusterIP
strategy:
  type: RollingUpdate
terminationGracePeriodSeconds: 30
podAnnotations: {}
podLabels: {}
nodeSelector: {}
tolerations: []
affinity: {}
priorityClassName: ""
{{- end -}}

{{/*
Deep merge that, unlike sprig's mergeOverwrite, lets an override of false, 0 or ""
win over a default: (dict "dst" <defaults map> "src" <overrides map>) -> YAML.
Maps merge recursively; any other value (lists included) replaces the default.
*/}}
{{- define "taskplane.merge" -}}
{{- $out := deepCopy .dst -}}
{{- range $k, $sv := .src -}}
{{- $dv := index $out $k -}}
{{- if and (kindIs "map" $sv) (kindIs "map" $dv) -}}
{{- $_ := set $out $k (include "taskplane.merge" (dict "dst" $dv "src" $sv) | fromYaml) -}}
{{- else -}}
{{- $_ := set $out $k $sv -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The component's effective values: library defaults overlaid with the subchart's values. */}}
{{- define "taskplane.component.values" -}}
{{- $defaults := include "taskplane.component.defaults" . | fromYaml -}}
{{- include "taskplane.merge" (dict "dst" $defaults "src" (omit .Values "global")) -}}
{{- end -}}
