{{/*
"taskplane.component": everything one long-running component needs, from its values.
A service subchart's only template is:  {{ include "taskplane.component" . }}

Renders: ServiceAccount, Service, Deployment (with a migrate init container when the
migrations mode is initContainer), HorizontalPodAutoscaler, PodDisruptionBudget,
NetworkPolicy (ingress; the shared egress allows live in the umbrella),
ServiceMonitor, the migration hook Job, and a helm test pod that calls /readyz.
*/}}
{{- define "taskplane.component" -}}
{{- $v := include "taskplane.component.values" . | fromYaml -}}
{{- $name := required "component.name is required" $v.component.name -}}
{{- $c := dict "root" . "v" $v "name" $name "fullname" (include "taskplane.serviceName" (dict "root" . "component" $name)) "role" ($v.component.role | default "api") -}}
{{- if $v.enabled }}
{{- include "taskplane.component.validate" $c }}
{{- range $part := list "serviceAccount" "service" "deployment" "hpa" "pdb" "networkPolicy" "serviceMonitor" "migrationJob" "testReadyz" }}
{{- $doc := include (printf "taskplane.component.%s" $part) $c | trim }}
{{- if $doc }}
{{- if not (hasPrefix "---" $doc) }}
{{- fail (printf "internal: taskplane.component.%s must start with ---" $part) }}
{{- end }}
{{ $doc }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "taskplane.component.validate" -}}
{{- $v := .v -}}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- fail (printf "%s.autoscaling.minReplicas (%v) must not exceed %s.autoscaling.maxReplicas (%v)" .name $v.autoscaling.minReplicas .name $v.autoscaling.maxReplicas) -}}
{{- end -}}
{{- if and $v.component.singleton (or $v.autoscaling.enabled (gt (int $v.replicaCount) 1)) -}}
{{- fail (printf "%s.replicaCount must be 0 or 1 and %s.autoscaling.enabled false: it runs standalone (no peering), two replicas would reconcile twice" .name .name) -}}
{{- end -}}
{{- range $k, $_ := $v.env -}}
{{- if eq $k "TASKPLANE_AUTH_DISABLED" -}}
{{- fail (printf "%s.env.TASKPLANE_AUTH_DISABLED cannot be set: the chart always runs with authentication" $.name) -}}
{{- end -}}
{{- if hasKey $v.secretEnv $k -}}
{{- fail (printf "%s.env.%s is also in %s.secretEnv; keep one" $.name $k $.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "taskplane.component.labels" -}}
{{ include "taskplane.labels" (dict "root" .root "name" .name "component" .role) }}
{{- end -}}

{{- define "taskplane.component.selector" -}}
{{ include "taskplane.selectorLabels" (dict "root" .root "name" .name) }}
{{- end -}}

{{- define "taskplane.component.image" -}}
{{- include "taskplane.image" (dict "root" .root "repository" (include "taskplane.repository" (dict "root" .root "name" .name "repository" .v.image.repository)) "tag" .v.image.tag) -}}
{{- end -}}

{{/* Container env, sorted by name: platform settings, then the component's env map
     (tpl-rendered, overriding a platform setting of the same name), DATABASE_URL and
     secretEnv from Secrets. In development a secret left empty is simply not set
     (optional secretKeyRef) and the service uses its development default. */}}
{{- define "taskplane.component.env" -}}
{{- $root := .root -}}
{{- $g := $root.Values.global -}}
{{- $plain := dict
    "TASKPLANE_ENVIRONMENT" $g.environment
    "TASKPLANE_LOG_LEVEL" $g.logLevel
    "TASKPLANE_AUTH_DISABLED" "false"
    "TASKPLANE_JWKS_URL" (tpl $g.auth.jwksUrl $root)
    "TASKPLANE_JWT_ISSUER" $g.auth.issuer
    "TASKPLANE_JWT_AUDIENCE" $g.auth.audience
    "OTEL_SERVICE_NAME" .name
-}}
{{- if $g.tracing.enabled -}}
{{- $_ := set $plain "OTEL_EXPORTER_OTLP_ENDPOINT" (tpl $g.tracing.otlpEndpoint $root) -}}
{{- else -}}
{{- $_ := set $plain "OTEL_SDK_DISABLED" "true" -}}
{{- end -}}
{{- range $k, $val := .v.env -}}
{{- $_ := set $plain $k (tpl (toString $val) $root) -}}
{{- end -}}
{{- if .v.component.database }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "taskplane.databaseSecretName" $root }}
      key: {{ include "taskplane.databaseSecretKey" $root }}
{{- end }}
{{- range $k, $val := $plain }}
- name: {{ $k }}
  value: {{ $val | quote }}
{{- end }}
{{- range $k, $key := .v.secretEnv }}
{{- include "taskplane.requireSecretKey" (dict "root" $root "key" $key "component" $.name "env" $k) }}
- name: {{ $k }}
  valueFrom:
    secretKeyRef:
      name: {{ include "taskplane.platformSecretName" $root }}
      key: {{ $key }}
      {{- if ne $g.environment "production" }}
      optional: true
      {{- end }}
{{- end }}
{{- end -}}

{{- define "taskplane.component.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
{{- with .initialDelaySeconds }}
initialDelaySeconds: {{ . }}
{{- end }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
{{- end -}}

{{- define "taskplane.component.command" -}}
{{- if .v.command -}}
{{ toYaml .v.command }}
{{- else -}}
- python
- -m
- {{ .v.component.module }}
{{- end -}}
{{- end -}}

{{- define "taskplane.component.serviceAccount" }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .fullname }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "taskplane.component.labels" . | nindent 4 }}
automountServiceAccountToken: {{ .v.component.kubeApi | default false }}
{{- end }}

{{- define "taskplane.component.service" }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .fullname }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "taskplane.component.labels" . | nindent 4 }}
spec:
  type: {{ .v.service.type }}
  selector:
    {{- include "taskplane.component.selector" . | nindent 4 }}
  ports:
    {{- range $pname, $port := .v.component.ports }}
    - name: {{ $pname }}
      port: {{ $port }}
      targetPort: {{ $pname }}
      protocol: TCP
    {{- end }}
{{- end }}

{{- define "taskplane.component.podLabels" -}}
{{ include "taskplane.component.labels" . }}
{{- if .v.component.database }}
taskplane.io/database-client: "true"
{{- end }}
{{- with .v.podLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "taskplane.component.deployment" }}
{{- $root := .root -}}
{{- $v := .v -}}
{{- $g := $root.Values.global -}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .fullname }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "taskplane.component.labels" . | nindent 4 }}
  annotations:
    {{- $skips := list "CKV_K8S_43=images are pinned by immutable release tag; digest pinning is done by the release pipeline (global.image.tag may be a digest-qualified tag)" }}
    {{- if or $v.secretEnv $v.component.database }}
    {{- $skips = append $skips "CKV_K8S_35=the services read configuration only from environment variables (design contract); values come from secretKeyRef, never from the manifest" }}
    {{- end }}
    {{- if ne $v.image.pullPolicy "Always" }}
    {{- $skips = append $skips (printf "CKV_K8S_15=image.pullPolicy %s chosen in values (kind-loaded images cannot be pulled)" $v.image.pullPolicy) }}
    {{- end }}
    {{- if $v.component.kubeApi }}
    {{- $skips = append $skips "CKV_K8S_38=the operator talks to the Kubernetes API and needs its service account token" }}
    {{- end }}
    {{- include "taskplane.checkovSkips" $skips | trim | nindent 4 }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    {{- toYaml $v.strategy | nindent 4 }}
  selector:
    matchLabels:
      {{- include "taskplane.component.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "taskplane.component.podLabels" . | nindent 8 }}
      {{- $ann := deepCopy $v.podAnnotations }}
      {{- if $g.tracing.autoInstrument }}
      {{- $_ := set $ann "instrumentation.opentelemetry.io/inject-python" "true" }}
      {{- end }}
      {{- with $ann }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ .fullname }}
      automountServiceAccountToken: {{ $v.component.kubeApi | default false }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- include "taskplane.podSecurityContext" $root | nindent 8 }}
      {{- if and $v.component.migrations (eq (include "taskplane.migrationsMode" $root) "initContainer") }}
      initContainers:
        - name: migrate
          image: {{ include "taskplane.component.image" . }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command:
            {{- include "taskplane.component.command" . | nindent 12 }}
          args:
            - migrate
          env:
            {{- include "taskplane.component.env" . | trim | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "taskplane.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            {{- include "taskplane.tmpVolumeMount" . | nindent 12 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "taskplane.component.image" . }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command:
            {{- include "taskplane.component.command" . | nindent 12 }}
          {{- with $v.args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            {{- range $pname, $port := $v.component.ports }}
            - name: {{ $pname }}
              containerPort: {{ $port }}
              protocol: TCP
            {{- end }}
          env:
            {{- include "taskplane.component.env" . | trim | nindent 12 }}
          livenessProbe:
            {{- include "taskplane.component.probe" $v.probes.liveness | nindent 12 }}
          readinessProbe:
            {{- include "taskplane.component.probe" $v.probes.readiness | nindent 12 }}
          startupProbe:
            {{- include "taskplane.component.probe" $v.probes.startup | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "taskplane.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            {{- include "taskplane.tmpVolumeMount" . | nindent 12 }}
      volumes:
        {{- include "taskplane.tmpVolume" . | nindent 8 }}
      {{- if $v.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range $key := list "topology.kubernetes.io/zone" "kubernetes.io/hostname" }}
        - maxSkew: {{ $v.topologySpread.maxSkew }}
          topologyKey: {{ $key }}
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "taskplane.component.selector" $ | nindent 14 }}
          matchLabelKeys:
            - pod-template-hash
        {{- end }}
      {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{- define "taskplane.component.hpa" }}
{{- if .v.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ .fullname }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "taskplane.component.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ .fullname }}
  minReplicas: {{ .v.autoscaling.minReplicas }}
  maxReplicas: {{ .v.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .v.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
{{- end }}

{{- define "taskplane.component.pdb" }}
{{- if .v.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ .fullname }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "taskplane.component.labels" . | nindent 4 }}
spec:
  {{- if hasKey .v.podDisruptionBudget "minAvailable" }}
  minAvailable: {{ .v.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .v.podDisruptionBudget.maxUnavailable }}
  {{- end }}
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "taskplane.component.selector" . | nindent 6 }}
{{- end }}
{{- end }}

{{- define "taskplane.component.networkPolicy" }}
{{- $g := .root.Values.global -}}
{{- if $g.networkPolicy.enabled }}
{{- $v := .v -}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ .fullname }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "taskplane.component.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "taskplane.component.selector" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if or $v.component.kubeApi $v.networkPolicy.extraEgress }}
    - Egress
    {{- end }}
  ingress:
    {{- if hasKey $v.component.ports "http" }}
    # service to service and helm tests (any taskplane pod), and the operator's worker
    # pods (labelled app.kubernetes.io/name=taskplane-worker), in any namespace
    - from:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              app.kubernetes.io/part-of: taskplane
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              app.kubernetes.io/name: taskplane-worker
      ports:
        - port: http
          protocol: TCP
    {{- end }}
    {{- if $g.monitoring.enabled }}
    # Prometheus scrape
    - from:
        {{- toYaml $g.networkPolicy.prometheus.from | nindent 8 }}
      ports:
        - port: {{ $v.component.metricsPortName }}
          protocol: TCP
    {{- end }}
    {{- with $v.networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- if or $v.component.kubeApi $v.networkPolicy.extraEgress }}
  egress:
    {{- if $v.component.kubeApi }}
    # the Kubernetes API server (its address is cluster-specific; restrict with global.networkPolicy.kubeApi.to)
    - ports:
        {{- range $g.networkPolicy.kubeApi.ports }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
      {{- with $g.networkPolicy.kubeApi.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- with $v.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}

{{- define "taskplane.component.serviceMonitor" }}
{{- $g := .root.Values.global -}}
{{- if and $g.monitoring.enabled .v.serviceMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .fullname }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "taskplane.component.labels" . | nindent 4 }}
    {{- with $g.monitoring.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  jobLabel: app.kubernetes.io/name
  namespaceSelector:
    matchNames:
      - {{ .root.Release.Namespace }}
  selector:
    matchLabels:
      {{- include "taskplane.component.selector" . | nindent 6 }}
  endpoints:
    - port: {{ .v.component.metricsPortName }}
      # keep the app's own "service" label on http_requests_total (the dashboards group by it)
      honorLabels: true
      path: /metrics
      interval: {{ .v.serviceMonitor.interval }}
      scrapeTimeout: {{ .v.serviceMonitor.scrapeTimeout }}
{{- end }}
{{- end }}

{{/* The migration Job: one pod (parallelism 1, completions 1), a hook so it runs
     before the new Deployment pods on install and upgrade; the command itself takes
     a PostgreSQL advisory lock, so even a retried or overlapping run cannot migrate
     twice. The platform Secret and the hooks ServiceAccount are hooks with lower
     weights, so they exist before this Job. */}}
{{- define "taskplane.component.migrationJob" }}
{{- $root := .root -}}
{{- $v := .v -}}
{{- if and $v.component.migrations (eq (include "taskplane.migrationsMode" $root) "hook") }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-migrate" .fullname | trunc 63 | trimSuffix "-" }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "taskplane.labels" (dict "root" $root "name" (printf "%s-migrate" .name) "component" "migration") | nindent 4 }}
  annotations:
    {{- include "taskplane.hookAnnotations" (dict "hook" "pre-install,pre-upgrade" "weight" 0 "policy" "before-hook-creation,hook-succeeded") | nindent 4 }}
    {{- $skips := list "CKV_K8S_8=a run-to-completion migration Job has no liveness endpoint" "CKV_K8S_9=a run-to-completion migration Job has no readiness endpoint" "CKV_K8S_43=images are pinned by immutable release tag; digest pinning is done by the release pipeline" }}
    {{- if or $v.secretEnv $v.component.database }}
    {{- $skips = append $skips "CKV_K8S_35=the services read configuration only from environment variables (design contract); values come from secretKeyRef" }}
    {{- end }}
    {{- if ne $v.image.pullPolicy "Always" }}
    {{- $skips = append $skips (printf "CKV_K8S_15=image.pullPolicy %s chosen in values (kind-loaded images cannot be pulled)" $v.image.pullPolicy) }}
    {{- end }}
    {{- include "taskplane.checkovSkips" $skips | trim | nindent 4 }}
spec:
  parallelism: 1
  completions: 1
  backoffLimit: 6
  activeDeadlineSeconds: 900
  template:
    metadata:
      labels:
        {{- include "taskplane.labels" (dict "root" $root "name" (printf "%s-migrate" .name) "component" "migration") | nindent 8 }}
        taskplane.io/database-client: "true"
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "taskplane.hooksServiceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "taskplane.podSecurityContext" $root | nindent 8 }}
      containers:
        - name: migrate
          image: {{ include "taskplane.component.image" . }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          command:
            {{- include "taskplane.component.command" . | nindent 12 }}
          args:
            - migrate
          env:
            {{- include "taskplane.component.env" . | trim | nindent 12 }}
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- include "taskplane.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            {{- include "taskplane.tmpVolumeMount" . | nindent 12 }}
      volumes:
        {{- include "taskplane.tmpVolume" . | nindent 8 }}
{{- end }}
{{- end }}

{{/* helm test: GET /readyz through the Service (200 only when the service's database answers). */}}
{{- define "taskplane.component.testReadyz" }}
{{- $root := .root -}}
{{- $v := .v -}}
{{- if and $root.Values.global.tests.enabled $v.component.readyzTest }}
---
apiVersion: v1
kind: Pod
metadata:
  name: {{ printf "%s-test-readyz" .fullname | trunc 63 | trimSuffix "-" }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "taskplane.labels" (dict "root" $root "name" (printf "%s-test" .name) "component" "test") | nindent 4 }}
  annotations:
    {{- include "taskplane.hookAnnotations" (dict "hook" "test" "weight" 0 "policy" "before-hook-creation,hook-succeeded") | nindent 4 }}
    {{- $skips := list "CKV_K8S_8=a helm test pod runs once to completion; nothing to probe" "CKV_K8S_9=a helm test pod runs once to completion; nothing to probe" "CKV_K8S_43=images are pinned by immutable release tag; digest pinning is done by the release pipeline" }}
    {{- if ne $v.image.pullPolicy "Always" }}
    {{- $skips = append $skips (printf "CKV_K8S_15=image.pullPolicy %s chosen in values (kind-loaded images cannot be pulled)" $v.image.pullPolicy) }}
    {{- end }}
    {{- include "taskplane.checkovSkips" $skips | trim | nindent 4 }}
spec:
  restartPolicy: Never
  serviceAccountName: {{ include "taskplane.hooksServiceAccountName" $root }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext:
    {{- include "taskplane.podSecurityContext" $root | nindent 4 }}
  containers:
    - name: readyz
      image: {{ include "taskplane.component.image" . }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      command:
        - python
        - -c
        - |
          import sys, time, urllib.request
          url = sys.argv[1]
          for attempt in range(30):
              try:
                  with urllib.request.urlopen(url, timeout=5) as r:
                      print(url, r.status)
                      sys.exit(0 if r.status == 200 else 1)
              except Exception as exc:
                  print(url, "not ready:", exc)
                  time.sleep(2)
          sys.exit(1)
        - {{ printf "%s/readyz" (include "taskplane.serviceURL" (dict "root" $root "component" .name "port" $v.component.ports.http)) }}
      resources:
        {{- toYaml $root.Values.global.tests.resources | nindent 8 }}
      securityContext:
        {{- include "taskplane.containerSecurityContext" $root | nindent 8 }}
      volumeMounts:
        {{- include "taskplane.tmpVolumeMount" . | nindent 8 }}
  volumes:
    {{- include "taskplane.tmpVolume" . | nindent 4 }}
{{- end }}
{{- end }}
