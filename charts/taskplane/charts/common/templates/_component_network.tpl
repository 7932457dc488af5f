{{/* Network of a component: its Service and its NetworkPolicy (see _component.tpl). */}}

{{- define "taskplane.component.service" }}
---
apiVersion: v1
kind: Service
metadata:
  {{- include "taskplane.component.metadata" . | nindent 2 }}
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

{{/* Ingress the component serves, and the egress only it needs (the Kubernetes API
     server for the operator and the auth-service, component.egress,
     networkPolicy.extraEgress); the egress every
     taskplane pod shares (DNS, services, database, OTLP) is in _networkpolicy.tpl. */}}
{{- define "taskplane.component.networkPolicy" }}
{{- $g := .root.Values.global -}}
{{- if $g.networkPolicy.enabled }}
{{- $v := .v -}}
{{- $apiServer := or $v.component.kubeApi $v.component.kubernetesTokenVerifier -}}
{{- $egress := or $apiServer $v.component.egress $v.networkPolicy.extraEgress -}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "taskplane.component.metadata" . | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "taskplane.component.selector" . | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if $egress }}
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
  {{- if $egress }}
  egress:
    {{- if $apiServer }}
    # the Kubernetes API server: its API (operator; auth-service in TokenReview mode) or the
    # ServiceAccount issuer's discovery and JWKS (auth-service, oidc); the address is
    # cluster-specific: restrict with global.networkPolicy.kubeApi.to
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
    {{- with $v.component.egress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with $v.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end }}

{{/* An Ingress to the component's http port, when its values have ingress.enabled (the
     web console: browsers reach it from outside the cluster). */}}
{{- define "taskplane.component.ingress" }}
{{- $i := dig "ingress" dict .v -}}
{{- if $i.enabled }}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  {{- include "taskplane.component.metadata" . | nindent 2 }}
  {{- with $i.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $i.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with $i.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    - host: {{ required (printf "%s.ingress.host is required when the Ingress is enabled" .name) $i.host | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ .fullname }}
                port:
                  name: http
{{- end }}
{{- end }}
