{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "assay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name. A StatefulSet's pods are named <fullname>-<ordinal> and carry the
controller-revision-hash label (the name plus 11 characters must fit 63), so keep it at 52.
*/}}
{{- define "assay.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "assay.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Standard labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */}}
{{- define "assay.labels" -}}
helm.sh/chart: {{ include "assay.chart" . }}
{{ include "assay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: stream-processor
app.kubernetes.io/part-of: assay
{{- end }}

{{/* Selector labels: immutable on a StatefulSet, so only name and instance. */}}
{{- define "assay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "assay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "assay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "assay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "assay.headlessServiceName" -}}
{{- printf "%s-headless" (include "assay.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "assay.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
The pipeline file: .Values.pipeline (a string or a map; null = files/pipeline.yaml) rendered
through tpl. Also checks
what the chart depends on: the file parses as a YAML map with a name, and metrics.listen
serves on all interfaces at .Values.metrics.port (probes and Service use that port).
*/}}
{{- define "assay.pipeline" -}}
{{- $raw := .Values.pipeline }}
{{- if kindIs "invalid" $raw }}
{{- $raw = .Files.Get "files/pipeline.yaml" }}
{{- else if kindIs "map" $raw }}
{{- $raw = toYaml $raw }}
{{- end }}
{{- $text := tpl $raw . }}
{{- $doc := fromYaml $text }}
{{- if hasKey $doc "Error" }}
{{- fail (printf "pipeline: not valid YAML after templating: %v" (get $doc "Error")) }}
{{- end }}
{{- if not (get $doc "name") }}
{{- fail "pipeline: the pipeline needs a top-level 'name'" }}
{{- end }}
{{- $metrics := get $doc "metrics" | default dict }}
{{- if not (kindIs "map" $metrics) }}
{{- fail "pipeline: 'metrics' must be a map with 'listen'" }}
{{- end }}
{{- $listen := toString (get $metrics "listen" | default "") }}
{{- $want := printf "0.0.0.0:%d" (int .Values.metrics.port) }}
{{- if ne $listen $want }}
{{- fail (printf "pipeline: metrics.listen is %q but must be %q: the probes (/healthz, /readyz) and the metrics Service reach the pod on metrics.port from outside the container" $listen $want) }}
{{- end }}
{{- $text }}
{{- end }}
