{{/* Egress rule: DNS to the cluster resolver (kube-system kube-dns/CoreDNS), UDP and TCP 53. */}}
{{- define "taskplane.networkPolicy.dnsEgress" -}}
{{- $dns := .Values.global.networkPolicy.dns -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ $dns.namespace }}
      podSelector:
        {{- toYaml $dns.podSelector | nindent 8 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

{{/* Egress rule: the OTLP endpoint (port from global.networkPolicy.otlp; peers optional). */}}
{{- define "taskplane.networkPolicy.otlpEgress" -}}
{{- $o := .Values.global.networkPolicy.otlp -}}
- ports:
    {{- range $o.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
  {{- with $o.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
The namespace-level policies every taskplane pod shares (rendered once, by the umbrella):
default deny in and out, then DNS, service-to-service, database and OTLP egress. The
per-component policies add the ingress each component serves.
*/}}
{{- define "taskplane.networkPolicy.shared" -}}
{{- $g := .Values.global -}}
{{- $np := $g.networkPolicy -}}
{{- if $np.enabled }}
---
# Default deny for every taskplane pod (selector: global.networkPolicy.defaultDeny.podSelector;
# set it to {} to deny everything in a namespace that holds only taskplane).
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "taskplane.name" (dict "root" . "suffix" "default-deny") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "taskplane.labels" (dict "root" . "name" "taskplane" "component" "network-policy") | nindent 4 }}
spec:
  podSelector:
    {{- toYaml $np.defaultDeny.podSelector | nindent 4 }}
  policyTypes:
    - Ingress
    - Egress
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "taskplane.name" (dict "root" . "suffix" "allow-egress") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "taskplane.labels" (dict "root" . "name" "taskplane" "component" "network-policy") | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      app.kubernetes.io/part-of: taskplane
  policyTypes:
    - Egress
  egress:
    {{- include "taskplane.networkPolicy.dnsEgress" . | nindent 4 }}
    # service to service: the taskplane HTTP APIs (8001-8004), in any namespace
    - to:
        - namespaceSelector: {}
          podSelector:
            matchLabels:
              app.kubernetes.io/part-of: taskplane
      ports:
        - port: {{ $np.services.port }}
          endPort: {{ $np.services.endPort }}
          protocol: TCP
    {{- if $g.tracing.enabled }}
    {{- include "taskplane.networkPolicy.otlpEgress" . | nindent 4 }}
    {{- end }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "taskplane.name" (dict "root" . "suffix" "allow-database") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "taskplane.labels" (dict "root" . "name" "taskplane" "component" "network-policy") | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      taskplane.io/database-client: "true"
  policyTypes:
    - Egress
  egress:
    - ports:
        - port: {{ $g.database.port }}
          protocol: TCP
      {{- with $np.database.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
{{- end -}}
