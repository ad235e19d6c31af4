{{/*
A Deployment for one stateless service. Call with
(dict "root" $ "component" "collector" "values" .Values.collector "env" (include ... ) "volumes" "..." "mounts" "...");
optionally "serviceAccountName" (the pod then gets its token) and "annotations". The chart-wide
and the component's extraEnv, extraVolumes and extraVolumeMounts are added.
*/}}
{{- define "gpu-telemetry.deployment" -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "gpu-telemetry.fullname" $root }}-{{ .component }}
  labels:
    {{- include "gpu-telemetry.labels" (dict "root" $root "component" .component) | nindent 4 }}
spec:
  {{- if not .values.autoscaling.enabled }}
  replicas: {{ .values.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "gpu-telemetry.selectorLabels" (dict "root" $root "component" .component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "gpu-telemetry.labels" (dict "root" $root "component" .component) | nindent 8 }}
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .values.port | quote }}
        {{- with .annotations }}
        {{- . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "gpu-telemetry.podCommon" $root | nindent 6 }}
      {{- if .serviceAccountName }}
      serviceAccountName: {{ .serviceAccountName }}
      {{- else }}
      # No Kubernetes API access needed: no token in the pod.
      automountServiceAccountToken: false
      {{- end }}
      terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .component }}
          image: {{ include "gpu-telemetry.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [{{ .component | quote }}]
          ports:
            - name: http
              containerPort: {{ .values.port }}
          env:
            {{- include "gpu-telemetry.commonEnv" $root | nindent 12 }}
            {{- .env | nindent 12 }}
            {{- with include "gpu-telemetry.extraEnv" (dict "root" $root "values" .values) }}
            {{- . | nindent 12 }}
            {{- end }}
          readinessProbe:
            httpGet: { path: /ready, port: http }
            periodSeconds: 5
          livenessProbe:
            httpGet: { path: /health, port: http }
            periodSeconds: 10
            failureThreshold: 6
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with include "gpu-telemetry.extraVolumeMounts" (dict "root" $root "values" .values) }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with include "gpu-telemetry.extraVolumes" (dict "root" $root "values" .values) }}
        {{- . | nindent 8 }}
        {{- end }}
{{- end -}}
