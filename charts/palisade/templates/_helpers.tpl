{{- define "palisade.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "palisade.injector" -}}
{{- printf "%s-injector" (include "palisade.fullname" .) -}}
{{- end -}}

{{- define "palisade.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "palisade.injectorSelector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: injector
{{- end -}}

{{/* image: (dict "image" .Values.x.image "default" "palisade-engine" "root" .) */}}
{{- define "palisade.image" -}}
{{- $repo := .image.repository | default (printf "%s/%s" .root.Values.imageRegistry .default) -}}
{{- printf "%s:%s" $repo (.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{- define "palisade.kubeVersion" -}}
{{- $v := .Values.injector.kubernetesVersion | default .Capabilities.KubeVersion.Version -}}
{{- regexFind "^v?[0-9]+\\.[0-9]+" $v | trimPrefix "v" -}}
{{- end -}}

{{- define "palisade.excludeNamespaces" -}}
{{- $ns := concat (list .Release.Namespace "kube-system") .Values.injector.excludeNamespaces | uniq -}}
{{- toJson $ns -}}
{{- end -}}

{{- define "palisade.multusNetwork" -}}
{{- .Values.multus.network | default "default/palisade-cni" -}}
{{- end -}}

{{- define "palisade.certSecret" -}}
{{- if eq .Values.certificates.provider "secret" -}}
{{- .Values.certificates.secret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "palisade.injector" .) -}}
{{- end -}}
{{- end -}}
