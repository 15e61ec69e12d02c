{{/* The names of the release's objects: <release>-membank unless overridden, at most 63 characters. */}}
{{- define "membank.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "membank.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "membank.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "membank.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "membank.selectorLabels" -}}
app.kubernetes.io/name: {{ include "membank.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one component (api, worker, migrate): call with (dict "root" $ "component" "api"). */}}
{{- define "membank.componentSelectorLabels" -}}
{{ include "membank.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "membank.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "membank.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag or repository@digest; the tag defaults to the appVersion and is never `latest`. */}}
{{- define "membank.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag | toString -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag must pin a release: `latest` is refused (leave it empty for the chart's appVersion)" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The settings the chart sets itself, per pod: a `config:` entry of the same name would be ignored. */}}
{{- define "membank.chartSetEnvNames" -}}
MEMBANK_HOST MEMBANK_PORT MEMBANK_DATA_DIR MEMBANK_RUN_WORKERS MEMBANK_WORKER_METRICS_PORT MEMBANK_WORKERS
{{- end -}}

{{/* The `config:` map as name -> string, refused when an entry is not a MEMBANK_ setting, is set by the chart or
     by `secrets`, or would put several replicas on the embedded stores. */}}
{{- define "membank.configData" -}}
{{- $chartSet := splitList " " (include "membank.chartSetEnvNames" .) -}}
{{- $secretNames := list -}}
{{- range .Values.secrets.env -}}
{{- $secretNames = append $secretNames .name -}}
{{- end -}}
{{- range $name, $value := .Values.config -}}
{{- if not (hasPrefix "MEMBANK_" $name) -}}
{{- fail (printf "config.%s: only MEMBANK_* settings belong in config" $name) -}}
{{- end -}}
{{- if has $name $chartSet -}}
{{- fail (printf "config.%s: the chart sets it (see README.md)" $name) -}}
{{- end -}}
{{- if has $name $secretNames -}}
{{- fail (printf "config.%s: a secret setting, it comes from secrets.existingSecret" $name) -}}
{{- end -}}
{{- end -}}
{{- if ne (toString (index .Values.config "MEMBANK_STORE")) "postgres" -}}
{{- fail "config.MEMBANK_STORE must be postgres: the embedded SQLite store cannot be shared by several pods" -}}
{{- end -}}
{{- if not (has (toString (index .Values.config "MEMBANK_VECTOR_INDEX")) (list "pgvector" "qdrant")) -}}
{{- fail "config.MEMBANK_VECTOR_INDEX must be pgvector or qdrant: Qdrant Edge is owned by one process" -}}
{{- end -}}
{{- range $name, $value := .Values.config }}
{{ $name }}: {{ kindIs "string" $value | ternary $value (toJson $value) | quote }}
{{- end -}}
{{- end -}}

{{/* The secret settings as env entries. */}}
{{- define "membank.secretEnv" -}}
{{- $secret := required "secrets.existingSecret: the name of the Secret with the secret settings" .Values.secrets.existingSecret -}}
{{- range .Values.secrets.env }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}
{{- end -}}

{{/* Env common to every container: where it listens and keeps scratch files. */}}
{{- define "membank.baseEnv" -}}
- name: MEMBANK_HOST
  value: "0.0.0.0"
- name: MEMBANK_PORT
  value: "8080"
- name: MEMBANK_DATA_DIR
  value: /data
{{- end -}}

{{- define "membank.scratchVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.scratch.tmpSizeLimit }}
- name: data
  emptyDir:
    sizeLimit: {{ .Values.scratch.dataSizeLimit }}
{{- end -}}

{{- define "membank.scratchMounts" -}}
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
{{- end -}}

{{/* Pod spec parts shared by the API and worker Deployments: call with (dict "root" $ "component" "api"
     "values" .Values.api). */}}
{{- define "membank.podScheduling" -}}
{{- $root := .root -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if or $root.Values.topologySpread.zone.enabled $root.Values.topologySpread.host.enabled }}
topologySpreadConstraints:
  {{- range $key, $topologyKey := dict "zone" "topology.kubernetes.io/zone" "host" "kubernetes.io/hostname" }}
  {{- $spread := index $root.Values.topologySpread $key }}
  {{- if $spread.enabled }}
  - topologyKey: {{ $topologyKey }}
    maxSkew: {{ $spread.maxSkew }}
    whenUnsatisfiable: {{ $spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "membank.componentSelectorLabels" (dict "root" $root "component" $.component) | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
  {{- end }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Egress of every pod: DNS, then the configured destinations (the stores and HTTP services). */}}
{{- define "membank.egressRules" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- with .Values.networkPolicy.egress }}
{{ toYaml . }}
{{- end }}
{{- end -}}
