{{/* Chart name, truncated to the 63 characters Kubernetes allows. */}}
{{- define "gpu-telemetry.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name: every object is "<release>-<component>". */}}
{{- define "gpu-telemetry.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object; call with (dict "root" $ "component" "broker"). */}}
{{- define "gpu-telemetry.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "gpu-telemetry.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: gpu-telemetry
{{- end -}}

{{- define "gpu-telemetry.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gpu-telemetry.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "gpu-telemetry.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "gpu-telemetry.brokerUrl" -}}
http://{{ include "gpu-telemetry.fullname" . }}-broker:{{ .Values.broker.port }}
{{- end -}}

{{- define "gpu-telemetry.clickhouseUrl" -}}
{{- if .Values.clickhouse.internal.enabled -}}
http://{{ include "gpu-telemetry.fullname" . }}-clickhouse:8123
{{- else -}}
{{ required "clickhouse.external.url is required when clickhouse.internal.enabled is false" .Values.clickhouse.external.url }}
{{- end -}}
{{- end -}}

{{- define "gpu-telemetry.clickhouseSecretName" -}}
{{- if and (not .Values.clickhouse.internal.enabled) .Values.clickhouse.external.existingSecret -}}
{{ .Values.clickhouse.external.existingSecret }}
{{- else -}}
{{ include "gpu-telemetry.fullname" . }}-clickhouse
{{- end -}}
{{- end -}}

{{/*
ClickHouse connection settings and the retention, shared by the collectors, the API and
the migrate Job: one retentionDays for every pod that talks to ClickHouse.
*/}}
{{- define "gpu-telemetry.clickhouseEnv" -}}
- name: CLICKHOUSE_URL
  value: {{ include "gpu-telemetry.clickhouseUrl" . | quote }}
- name: CLICKHOUSE_USER
  value: {{ ternary .Values.clickhouse.internal.user .Values.clickhouse.external.user .Values.clickhouse.internal.enabled | quote }}
- name: CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "gpu-telemetry.clickhouseSecretName" . }}
      key: password
- name: CLICKHOUSE_DATABASE
  value: {{ .Values.clickhouse.database | quote }}
- name: TELEMETRY_RETENTION_DAYS
  value: {{ .Values.clickhouse.retentionDays | quote }}
{{- end -}}

{{/* Services that read and write the telemetry store but leave its schema to the migrate Job. */}}
{{- define "gpu-telemetry.schemaOwnedByJob" -}}
- name: CLICKHOUSE_MIGRATE_ON_START
  value: "false"
{{- end -}}

{{/*
The chart-wide extras then a component's own; call with (dict "root" $ "values" .Values.streamer).
Each renders a YAML list (possibly empty, then nothing).
*/}}
{{- define "gpu-telemetry.extraEnv" -}}
{{- $all := concat (.root.Values.extraEnv | default list) (.values.extraEnv | default list) -}}
{{- if $all -}}
{{ toYaml $all }}
{{- end -}}
{{- end -}}

{{- define "gpu-telemetry.extraVolumes" -}}
{{- $all := concat (.root.Values.extraVolumes | default list) (.values.extraVolumes | default list) -}}
{{- if $all -}}
{{ toYaml $all }}
{{- end -}}
{{- end -}}

{{- define "gpu-telemetry.extraVolumeMounts" -}}
{{- $all := concat (.root.Values.extraVolumeMounts | default list) (.values.extraVolumeMounts | default list) -}}
{{- if $all -}}
{{ toYaml $all }}
{{- end -}}
{{- end -}}

{{/* Settings every service process shares. */}}
{{- define "gpu-telemetry.commonEnv" -}}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: NODE_ENV
  value: production
- name: INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end -}}

{{/* Pod-level scheduling and security shared by every workload. */}}
{{- define "gpu-telemetry.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A CPU (and optionally custom-metric) HPA; call with (dict "root" $ "component" "api" "autoscaling" .Values.api.autoscaling "kind" "Deployment"). */}}
{{- define "gpu-telemetry.hpa" -}}
{{- if .autoscaling.enabled }}
{{- if gt (int .autoscaling.minReplicas) (int .autoscaling.maxReplicas) }}
{{- fail (printf "%s.autoscaling.minReplicas (%v) must not exceed maxReplicas (%v)" .component .autoscaling.minReplicas .autoscaling.maxReplicas) }}
{{- end }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "gpu-telemetry.fullname" .root }}-{{ .component }}
  labels:
    {{- include "gpu-telemetry.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "gpu-telemetry.fullname" .root }}-{{ .component }}
  minReplicas: {{ .autoscaling.minReplicas }}
  maxReplicas: {{ .autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .autoscaling.targetCPUUtilizationPercentage }}
    {{- if and .autoscaling.lagMetric .autoscaling.lagMetric.enabled }}
    - type: Pods
      pods:
        metric:
          name: {{ .autoscaling.lagMetric.name }}
        target:
          type: AverageValue
          averageValue: {{ .autoscaling.lagMetric.targetAverageValue | quote }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* The Secret holding every bearer token: generated by tokens-secret.yaml, or auth.existingSecret. */}}
{{- define "gpu-telemetry.tokensSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-tokens" (include "gpu-telemetry.fullname" .)) -}}
{{- end -}}

{{/*
A volume of the tokens Secret holding only the keys one pod needs; call with
(dict "root" $ "items" (list (list "key" "path") ...)). Files are 0440: readable by the
pod's fsGroup, so the non-root process reads them; Kubernetes updates them in place
when the Secret changes, and the services re-read them.
*/}}
{{- define "gpu-telemetry.tokensVolume" -}}
- name: tokens
  secret:
    secretName: {{ include "gpu-telemetry.tokensSecretName" .root }}
    defaultMode: 0440
    items:
      {{- range .items }}
      - key: {{ index . 0 }}
        path: {{ index . 1 }}
      {{- end }}
{{- end -}}

{{- define "gpu-telemetry.tokensMount" -}}
- name: tokens
  mountPath: /etc/gpu-telemetry/tokens
  readOnly: true
{{- end -}}

{{/* True (non-empty) when the streamers read the Kubernetes API to find the exporters. */}}
{{- define "gpu-telemetry.streamerNeedsApi" -}}
{{- if and (eq .Values.streamer.source "dcgm-exporter") (ne .Values.streamer.exporter.discovery "static") -}}true{{- end -}}
{{- end -}}

{{- define "gpu-telemetry.streamerServiceAccountName" -}}
{{- .Values.streamer.serviceAccount.name | default (printf "%s-streamer" (include "gpu-telemetry.fullname" .)) -}}
{{- end -}}

{{/* Where the exporters run: the value, or the release's namespace when it is empty. */}}
{{- define "gpu-telemetry.exporterNamespace" -}}
{{- .Values.streamer.exporter.namespace | default .Release.Namespace -}}
{{- end -}}

{{/* The chart's discovery name → STREAMER_EXPORTER_DISCOVERY. */}}
{{- define "gpu-telemetry.streamerDiscovery" -}}
{{- get (dict "endpointSlices" "endpointslices" "labelSelector" "pods" "static" "static") .Values.streamer.exporter.discovery -}}
{{- end -}}
