{{/* Workload of a component: ServiceAccount, Deployment, HPA, PDB (see _component.tpl). */}}

{{/* "true" when the component calls the Kubernetes API with its own API token: the
     operator always; the auth-service when it verifies ServiceAccount tokens by
     TokenReview. Empty otherwise. */}}
{{- define "taskplane.component.kubeApi" -}}
{{- $k := .root.Values.global.auth.kubernetes -}}
{{- if or .v.component.kubeApi (and .v.component.kubernetesTokenVerifier (eq $k.mode "tokenreview")) -}}
true
{{- end -}}
{{- end -}}

{{/* "true" when the auth-service verifies ServiceAccount tokens against the issuer's
     JWKS over HTTPS signed by the cluster CA (kube-root-ca.crt, mounted read-only). */}}
{{- define "taskplane.component.clusterCA" -}}
{{- $k := .root.Values.global.auth.kubernetes -}}
{{- if and .v.component.kubernetesTokenVerifier (eq $k.mode "oidc") $k.clusterCA -}}
true
{{- end -}}
{{- end -}}

{{/* Volumes of the component's workload identity: the projected ServiceAccount token
     (audience and lifetime from global.auth.kubernetes) of a component that presents
     one, the cluster CA of one that verifies them. */}}
{{- define "taskplane.component.identityVolumes" -}}
{{- $k := .root.Values.global.auth.kubernetes -}}
{{- if .v.component.workloadToken }}
- name: taskplane-token
  projected:
    sources:
      - serviceAccountToken:
          audience: {{ $k.audience }}
          expirationSeconds: {{ $k.tokenExpirationSeconds }}
          path: token
{{- end }}
{{- if include "taskplane.component.clusterCA" . }}
- name: kubernetes-ca
  projected:
    sources:
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
{{- end }}
{{- end -}}

{{- define "taskplane.component.identityVolumeMounts" -}}
{{- if .v.component.workloadToken }}
- name: taskplane-token
  mountPath: /var/run/secrets/taskplane/serviceaccount
  readOnly: true
{{- end }}
{{- if include "taskplane.component.clusterCA" . }}
- name: kubernetes-ca
  mountPath: /var/run/secrets/taskplane/kubernetes-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* Name of the Secret holding a secretsKek component's key-encryption key (key "kek",
     or kek.existingSecretKey of an existing Secret):
     kek.existingSecret, else in production "<release>-<component>-kek" (the umbrella's
     kek-secret.yaml creates it once); empty in development (the built-in dev key). */}}
{{- define "taskplane.component.kekSecret" -}}
{{- if .v.component.secretsKek -}}
{{- $kek := .v.kek | default dict -}}
{{- if $kek.existingSecret -}}
{{ $kek.existingSecret }}
{{- else if eq .root.Values.global.environment "production" -}}
{{ printf "%s-%s-kek" .root.Release.Name .name }}
{{- end -}}
{{- end -}}
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
{{- if .v.component.workloadToken -}}
{{- $_ := set $plain "TASKPLANE_TOKEN_FILE" "/var/run/secrets/taskplane/serviceaccount/token" -}}
{{- end -}}
{{- if include "taskplane.component.clusterCA" . -}}
{{- $_ := set $plain "TASKPLANE_AUTH_KUBERNETES_CA_FILE" "/var/run/secrets/taskplane/kubernetes-ca/ca.crt" -}}
{{- end -}}
{{- if .v.component.database -}}
{{- $_ := set $plain "TASKPLANE_DB_POOL_SIZE" (toString .v.databasePool.size) -}}
{{- $_ := set $plain "TASKPLANE_DB_MAX_OVERFLOW" (toString .v.databasePool.maxOverflow) -}}
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
{{- with include "taskplane.component.kekSecret" . }}
- name: TASKPLANE_SECRETS_KEK
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ (and $.v.kek $.v.kek.existingSecret $.v.kek.existingSecretKey) | default "kek" }}
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

{{/* The "migrate" container: the Deployment's init container, or the hook Job's container. */}}
{{- define "taskplane.component.migrateContainer" -}}
- name: migrate
  image: {{ include "taskplane.component.image" . }}
  imagePullPolicy: {{ .v.image.pullPolicy }}
  command:
    {{- include "taskplane.component.command" . | nindent 4 }}
  args:
    - migrate
  env:
    {{- include "taskplane.component.env" . | trim | nindent 4 }}
  resources:
    {{- toYaml .v.resources | nindent 4 }}
  securityContext:
    {{- include "taskplane.containerSecurityContext" .root | nindent 4 }}
  volumeMounts:
    {{- include "taskplane.tmpVolumeMount" . | nindent 4 }}
{{- end -}}

{{- define "taskplane.component.serviceAccount" }}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "taskplane.component.metadata" . | nindent 2 }}
automountServiceAccountToken: {{ include "taskplane.component.kubeApi" . | default false }}
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
  {{- include "taskplane.component.metadata" . | nindent 2 }}
  annotations:
    {{- include "taskplane.component.checkovSkips" (dict "c" . "env" true "kubeApi" (include "taskplane.component.kubeApi" .)) | nindent 4 }}
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
      automountServiceAccountToken: {{ include "taskplane.component.kubeApi" . | default false }}
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- include "taskplane.podSecurityContext" $root | nindent 8 }}
      {{- if and $v.component.migrations (eq (include "taskplane.migrationsMode" $root) "initContainer") }}
      initContainers:
        {{- include "taskplane.component.migrateContainer" . | nindent 8 }}
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
            {{- with include "taskplane.component.identityVolumeMounts" . | trim }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "taskplane.tmpVolume" . | nindent 8 }}
        {{- with include "taskplane.component.identityVolumes" . | trim }}
        {{- . | nindent 8 }}
        {{- end }}
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
  {{- include "taskplane.component.metadata" . | nindent 2 }}
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
  {{- include "taskplane.component.metadata" . | nindent 2 }}
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
