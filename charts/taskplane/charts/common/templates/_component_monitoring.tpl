{{/* Monitoring of a component: the ServiceMonitor of its metrics port (see _component.tpl). */}}

{{- define "taskplane.component.serviceMonitor" }}
{{- $g := .root.Values.global -}}
{{- if and $g.monitoring.enabled .v.serviceMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  {{- include "taskplane.component.metadata" . | nindent 2 }}
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
