{{/*
"taskplane.component": everything one long-running component needs, from its values.
The umbrella renders every entry of its components map (values.yaml) with one include:
  {{ include "taskplane.component" (dict "root" $ "name" "task-service") }}

The component's values are the umbrella's componentDefaults overlaid with its own
section, and its identity (components.<name>) as .component
(taskplane.component.values). The objects, by concern:
  _component_workload.tpl    ServiceAccount, Deployment (with a migrate init container
                             when the migrations mode is initContainer), HPA, PDB
  _component_network.tpl     Service, NetworkPolicy (ingress and the component's own
                             egress; the shared egress allows live in _networkpolicy.tpl),
                             an optional Ingress (a component with an "ingress:" block)
  _component_monitoring.tpl  ServiceMonitor
  _component_hooks.tpl       the migration hook Job and the /readyz helm test pod
Each part receives the component context:
  dict "root" <chart root> "v" <merged values> "name" <component> "fullname" <release-component> "role" <role>
*/}}
{{- define "taskplane.component" -}}
{{- $v := include "taskplane.component.values" . | fromYaml -}}
{{- $c := dict "root" .root "v" $v "name" .name "fullname" (include "taskplane.serviceName" (dict "root" .root "component" .name)) "role" ($v.component.role | default "api") -}}
{{- if $v.enabled }}
{{- include "taskplane.component.validate" $c }}
{{- range $part := list "serviceAccount" "service" "deployment" "hpa" "pdb" "networkPolicy" "ingress" "serviceMonitor" "migrationJob" "testReadyz" }}
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

{{/*
The component's effective values: componentDefaults overlaid with its own section, its
identity from the components map under "component". An entry of the map without its
settings section fails here, naming the key.
*/}}
{{- define "taskplane.component.values" -}}
{{- $section := index .root.Values .name -}}
{{- if not (kindIs "map" $section) -}}
{{- fail (printf "components.%s needs its settings section %s (at least %s.enabled)" .name .name .name) -}}
{{- end -}}
{{- $v := include "taskplane.merge" (dict "dst" .root.Values.componentDefaults "src" $section) | fromYaml -}}
{{- $_ := set $v "component" (index .root.Values.components .name) -}}
{{- toYaml $v -}}
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

{{/* metadata of a namespaced object of the component: (dict "c" <component context>). */}}
{{- define "taskplane.component.metadata" -}}
name: {{ .fullname }}
namespace: {{ .root.Release.Namespace }}
labels:
  {{- include "taskplane.component.labels" . | nindent 2 }}
{{- end -}}

{{/*
checkov skip annotations of a pod-bearing object, each with its reason: the object's
own (.first), then image digests, secrets as env (.env), a pull policy chosen in
values, and the Kubernetes API token (.kubeApi).
*/}}
{{- define "taskplane.component.checkovSkips" -}}
{{- $v := .c.v -}}
{{- $skips := concat (.first | default list) (list "CKV_K8S_43=images are pinned by immutable release tag; digest pinning is done by the release pipeline (global.image.tag may be a digest-qualified tag)") -}}
{{- if and .env (or $v.secretEnv $v.component.database) -}}
{{- $skips = append $skips "CKV_K8S_35=the services read configuration only from environment variables (docs/architecture.md, Service contracts); values come from secretKeyRef, never from the manifest" -}}
{{- end -}}
{{- if ne $v.image.pullPolicy "Always" -}}
{{- $skips = append $skips (printf "CKV_K8S_15=image.pullPolicy %s chosen in values (kind-loaded images cannot be pulled)" $v.image.pullPolicy) -}}
{{- end -}}
{{- if .kubeApi -}}
{{- $skips = append $skips "CKV_K8S_38=it talks to the Kubernetes API (the operator; the auth-service in TokenReview mode) and needs its service account token" -}}
{{- end -}}
{{- include "taskplane.checkovSkips" $skips | trim -}}
{{- end -}}
