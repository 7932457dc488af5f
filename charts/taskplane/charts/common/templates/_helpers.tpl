{{/*
taskplane library helpers. Every template here takes either the chart root context
(".") or a component context built by "taskplane.component.context":
  dict "root" <chart root> "v" <merged component values> "name" <component name>
       "fullname" <release-component>
Template names are global across the umbrella and its subcharts, so everything is
prefixed "taskplane." to stay clear of the upstream charts' helpers.
*/}}

{{/* <release>-<suffix>, truncated to the 63 characters a DNS label allows. */}}
{{- define "taskplane.name" -}}
{{- printf "%s-%s" .root.Release.Name .suffix | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Service name of a component, e.g. "taskplane-task-service" for release "taskplane". */}}
{{- define "taskplane.serviceName" -}}
{{- include "taskplane.name" (dict "root" .root "suffix" .component) -}}
{{- end -}}

{{/* In-cluster base URL of an HTTP service: http://<release>-<component>:<port> */}}
{{- define "taskplane.serviceURL" -}}
{{- printf "http://%s:%v" (include "taskplane.serviceName" .) .port -}}
{{- end -}}

{{/* Name of the Secret holding DATABASE_URL (external secret in production). */}}
{{- define "taskplane.databaseSecretName" -}}
{{- $db := .Values.global.database -}}
{{- if $db.external.existingSecret -}}
{{- $db.external.existingSecret -}}
{{- else -}}
{{- include "taskplane.name" (dict "root" . "suffix" "taskplane-database") -}}
{{- end -}}
{{- end -}}

{{- define "taskplane.databaseSecretKey" -}}
{{- .Values.global.database.external.existingSecretKey | default "DATABASE_URL" -}}
{{- end -}}

{{/* Name of the platform Secret (cursor secret, key-encryption key, admin, tokens). */}}
{{- define "taskplane.platformSecretName" -}}
{{- if .Values.global.secrets.existingSecret -}}
{{- .Values.global.secrets.existingSecret -}}
{{- else -}}
{{- include "taskplane.name" (dict "root" . "suffix" "taskplane") -}}
{{- end -}}
{{- end -}}

{{/* ServiceAccount used by hook Jobs and helm test pods (a hook itself, so it exists before them). */}}
{{- define "taskplane.hooksServiceAccountName" -}}
{{- include "taskplane.name" (dict "root" . "suffix" "taskplane-hooks") -}}
{{- end -}}

{{/* Migrations run as a hook Job against an external database; with the in-chart
     PostgreSQL (which does not exist yet at pre-install time) they run as an init
     container instead, serialized across replicas by the service's advisory lock. */}}
{{- define "taskplane.migrationsMode" -}}
{{- $mode := .Values.global.migrations.mode -}}
{{- if eq $mode "auto" -}}
{{- if .Values.global.database.external.existingSecret -}}hook{{- else -}}initContainer{{- end -}}
{{- else -}}
{{- $mode -}}
{{- end -}}
{{- end -}}

{{/* Standard labels. Call with (dict "root" $ "name" <app name> "component" <role>). */}}
{{- define "taskplane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "taskplane.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.global.image.tag | default .root.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: taskplane
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "taskplane.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* Repository of a taskplane image: the explicit .repository if set, else
     <global.image.repositoryPrefix>/<name> (just <name> with an empty prefix).
     Call with (dict "root" $ "name" <image name> "repository" <override or "">). */}}
{{- define "taskplane.repository" -}}
{{- if .repository -}}
{{- .repository -}}
{{- else -}}
{{- $prefix := trimAll "/" (.root.Values.global.image.repositoryPrefix | default "") -}}
{{- if $prefix -}}
{{- printf "%s/%s" $prefix .name -}}
{{- else -}}
{{- .name -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <registry>/<repository>:<tag>; tag defaults to global.image.tag, then the chart appVersion. */}}
{{- define "taskplane.image" -}}
{{- $g := .root.Values.global.image -}}
{{- $tag := .tag | default $g.tag | default .root.Chart.AppVersion -}}
{{- if $g.registry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" $g.registry) .repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Pod Security "restricted" pod-level context; UID/GID from global.podSecurity (>= 10000). */}}
{{- define "taskplane.podSecurityContext" -}}
{{- $ps := .Values.global.podSecurity -}}
runAsNonRoot: true
runAsUser: {{ $ps.runAsUser }}
runAsGroup: {{ $ps.runAsGroup }}
fsGroup: {{ $ps.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "taskplane.containerSecurityContext" -}}
{{- $ps := .Values.global.podSecurity -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ $ps.runAsUser }}
runAsGroup: {{ $ps.runAsGroup }}
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The only writable path of every container: an in-memory-backed /tmp. */}}
{{- define "taskplane.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "taskplane.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* checkov skip annotations: call with a list of "CKV_ID=reason" strings. */}}
{{- define "taskplane.checkovSkips" -}}
{{- range $i, $skip := . }}
checkov.io/skip{{ add1 $i }}: {{ $skip | quote }}
{{- end }}
{{- end -}}

{{/* Hook annotations: (dict "hook" "pre-install,pre-upgrade" "weight" -10 "policy" "before-hook-creation") */}}
{{- define "taskplane.hookAnnotations" -}}
helm.sh/hook: {{ .hook | quote }}
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: {{ .policy | default "before-hook-creation" | quote }}
{{- end -}}

{{/* Fail with a message naming the key when production is missing a secret value. */}}
{{- define "taskplane.requireSecretKey" -}}
{{- $g := .root.Values.global -}}
{{- if and (eq $g.environment "production") (not $g.secrets.existingSecret) -}}
{{- if not (index ($g.secrets.values | default dict) .key) -}}
{{- fail (printf "global.secrets.values.%s is required when global.environment=production (used by %s env %s); set it or set global.secrets.existingSecret" .key .component .env) -}}
{{- end -}}
{{- end -}}
{{- end -}}
