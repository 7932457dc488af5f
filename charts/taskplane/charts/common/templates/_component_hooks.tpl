{{/* Helm hooks of a component: the migration Job and the /readyz helm test (see _component.tpl). */}}

{{/* The migration Job: one pod (parallelism 1, completions 1), a hook so it runs
     before the new Deployment pods on install and upgrade; the command itself takes
     a PostgreSQL advisory lock, so even a retried or overlapping run cannot migrate
     twice. The platform Secret and the hooks ServiceAccount are hooks with lower
     weights, so they exist before this Job. */}}
{{- define "taskplane.component.migrationJob" }}
{{- $root := .root -}}
{{- if and .v.component.migrations (eq (include "taskplane.migrationsMode" $root) "hook") }}
{{- $labels := include "taskplane.labels" (dict "root" $root "name" (printf "%s-migrate" .name) "component" "migration") }}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-migrate" .fullname | trunc 63 | trimSuffix "-" }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- $labels | nindent 4 }}
  annotations:
    {{- include "taskplane.hookAnnotations" (dict "hook" "pre-install,pre-upgrade" "weight" 0 "policy" "before-hook-creation,hook-succeeded") | nindent 4 }}
    {{- include "taskplane.component.checkovSkips" (dict "c" . "env" true "first" (list "CKV_K8S_8=a run-to-completion migration Job has no liveness endpoint" "CKV_K8S_9=a run-to-completion migration Job has no readiness endpoint")) | nindent 4 }}
spec:
  parallelism: 1
  completions: 1
  backoffLimit: 6
  activeDeadlineSeconds: 900
  template:
    metadata:
      labels:
        {{- $labels | nindent 8 }}
        taskplane.io/database-client: "true"
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "taskplane.hooksServiceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "taskplane.podSecurityContext" $root | nindent 8 }}
      containers:
        {{- include "taskplane.component.migrateContainer" . | nindent 8 }}
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
    {{- include "taskplane.component.checkovSkips" (dict "c" . "first" (list "CKV_K8S_8=a helm test pod runs once to completion; nothing to probe" "CKV_K8S_9=a helm test pod runs once to completion; nothing to probe")) | nindent 4 }}
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
