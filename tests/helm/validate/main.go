// Command validate checks a rendered Helm manifest (the output of `helm template`) without a
// cluster: every document is decoded STRICTLY into its Kubernetes API type, chosen by
// apiVersion/kind (unknown fields and duplicate keys are errors, as are kinds this program
// does not know), then checked for what the API server or the kubelet would refuse later and
// for the properties the assay chart promises (selectors that match, references that resolve,
// the restrictive security context, probes on a declared port, ...).
//
//	helm template r helm/assay | validate [-require Kind,Kind] [-forbid Kind,Kind] [-v]
//	validate [flags] manifest.yaml
//
// CRDs that are not in k8s.io/api (Prometheus Operator ServiceMonitor, KEDA ScaledObject) are
// decoded strictly into small structs that mirror the fields of their published schemas.
// Exit status: 0 all documents valid, 1 any error, 2 usage.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ---- CRDs not in k8s.io/api: the fields of their schemas that a chart may set ----

// ServiceMonitor mirrors monitoring.coreos.com/v1 ServiceMonitor (prometheus-operator).
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel          string               `json:"jobLabel,omitempty"`
		TargetLabels      []string             `json:"targetLabels,omitempty"`
		PodTargetLabels   []string             `json:"podTargetLabels,omitempty"`
		Endpoints         []MonitorEndpoint    `json:"endpoints"`
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		SampleLimit *uint64 `json:"sampleLimit,omitempty"`
	} `json:"spec"`
}

// MonitorEndpoint mirrors monitoring.coreos.com/v1 Endpoint.
type MonitorEndpoint struct {
	Port              string              `json:"port,omitempty"`
	TargetPort        *json.RawMessage    `json:"targetPort,omitempty"`
	Path              string              `json:"path,omitempty"`
	Scheme            string              `json:"scheme,omitempty"`
	Params            map[string][]string `json:"params,omitempty"`
	Interval          string              `json:"interval,omitempty"`
	ScrapeTimeout     string              `json:"scrapeTimeout,omitempty"`
	HonorLabels       bool                `json:"honorLabels,omitempty"`
	HonorTimestamps   *bool               `json:"honorTimestamps,omitempty"`
	Relabelings       []RelabelConfig     `json:"relabelings,omitempty"`
	MetricRelabelings []RelabelConfig     `json:"metricRelabelings,omitempty"`
}

// RelabelConfig mirrors monitoring.coreos.com/v1 RelabelConfig.
type RelabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// ScaledObject mirrors keda.sh/v1alpha1 ScaledObject.
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion             string `json:"apiVersion,omitempty"`
			Kind                   string `json:"kind,omitempty"`
			Name                   string `json:"name"`
			EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
		} `json:"scaleTargetRef"`
		PollingInterval  *int32           `json:"pollingInterval,omitempty"`
		CooldownPeriod   *int32           `json:"cooldownPeriod,omitempty"`
		IdleReplicaCount *int32           `json:"idleReplicaCount,omitempty"`
		MinReplicaCount  *int32           `json:"minReplicaCount,omitempty"`
		MaxReplicaCount  *int32           `json:"maxReplicaCount,omitempty"`
		Advanced         *json.RawMessage `json:"advanced,omitempty"`
		Fallback         *struct {
			FailureThreshold int32 `json:"failureThreshold"`
			Replicas         int32 `json:"replicas"`
		} `json:"fallback,omitempty"`
		Triggers []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name,omitempty"`
			UseCachedMetrics  bool              `json:"useCachedMetrics,omitempty"`
			MetricType        string            `json:"metricType,omitempty"`
			Metadata          map[string]string `json:"metadata"`
			AuthenticationRef *struct {
				Name string `json:"name"`
				Kind string `json:"kind,omitempty"`
			} `json:"authenticationRef,omitempty"`
		} `json:"triggers"`
	} `json:"spec"`
}

// ---- decoding ----

type doc struct {
	index int
	gvk   string // apiVersion/kind
	obj   any
}

func (d doc) meta() *metav1.ObjectMeta {
	switch o := d.obj.(type) {
	case *appsv1.StatefulSet:
		return &o.ObjectMeta
	case *appsv1.Deployment:
		return &o.ObjectMeta
	case *corev1.Service:
		return &o.ObjectMeta
	case *corev1.ConfigMap:
		return &o.ObjectMeta
	case *corev1.Secret:
		return &o.ObjectMeta
	case *corev1.ServiceAccount:
		return &o.ObjectMeta
	case *policyv1.PodDisruptionBudget:
		return &o.ObjectMeta
	case *ServiceMonitor:
		return &o.ObjectMeta
	case *ScaledObject:
		return &o.ObjectMeta
	}
	return nil
}

func (d doc) kind() string { return d.gvk[strings.LastIndex(d.gvk, "/")+1:] }
func (d doc) String() string {
	return fmt.Sprintf("%s/%s", d.kind(), d.meta().Name)
}

var factories = map[string]func() any{
	"v1/ConfigMap":                            func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                               func() any { return &corev1.Secret{} },
	"v1/Service":                              func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                       func() any { return &corev1.ServiceAccount{} },
	"apps/v1/StatefulSet":                     func() any { return &appsv1.StatefulSet{} },
	"apps/v1/Deployment":                      func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget":           func() any { return &policyv1.PodDisruptionBudget{} },
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &ServiceMonitor{} },
	"keda.sh/v1alpha1/ScaledObject":           func() any { return &ScaledObject{} },
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// splitDocs splits a multi-document YAML stream, dropping documents with no content.
func splitDocs(data []byte) [][]byte {
	var out [][]byte
	for _, part := range docSep.Split(string(data), -1) {
		empty := true
		for _, line := range strings.Split(part, "\n") {
			t := strings.TrimSpace(line)
			if t != "" && !strings.HasPrefix(t, "#") {
				empty = false
				break
			}
		}
		if !empty {
			out = append(out, []byte(part))
		}
	}
	return out
}

type checker struct {
	errs []string
	docs []doc
}

func (c *checker) errorf(d *doc, format string, args ...any) {
	prefix := ""
	if d != nil {
		prefix = fmt.Sprintf("document %d (%s): ", d.index, d.String())
	}
	c.errs = append(c.errs, prefix+fmt.Sprintf(format, args...))
}

func (c *checker) decode(index int, raw []byte) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(raw, &tm); err != nil {
		c.errs = append(c.errs, fmt.Sprintf("document %d: not YAML: %v", index, err))
		return
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		c.errs = append(c.errs, fmt.Sprintf("document %d: apiVersion and kind are required", index))
		return
	}
	gvk := tm.APIVersion + "/" + tm.Kind
	f, ok := factories[gvk]
	if !ok {
		c.errs = append(c.errs, fmt.Sprintf("document %d: unknown apiVersion/kind %s (teach tests/helm/validate about it)", index, gvk))
		return
	}
	obj := f()
	// Decode as the API server does for fieldValidation=Strict: YAML -> JSON refusing
	// duplicate keys, then sigs.k8s.io/json, which (unlike encoding/json) matches field names
	// case-sensitively, and reports unknown and duplicate fields. A misspelt, miscased or
	// misplaced field anywhere is an error.
	js, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		c.errs = append(c.errs, fmt.Sprintf("document %d (%s): %v", index, gvk, err))
		return
	}
	strict, err := kjson.UnmarshalStrict(js, obj)
	if err != nil {
		c.errs = append(c.errs, fmt.Sprintf("document %d (%s): decoding failed: %v", index, gvk, err))
		return
	}
	if len(strict) > 0 {
		for _, e := range strict {
			c.errs = append(c.errs, fmt.Sprintf("document %d (%s): strict decoding: %v", index, gvk, e))
		}
		return
	}
	c.docs = append(c.docs, doc{index: index, gvk: gvk, obj: obj})
}

// ---- checks ----

func (c *checker) checkMeta(d *doc) {
	m := d.meta()
	if m.Name == "" {
		c.errorf(d, "metadata.name is empty")
		return
	}
	switch d.kind() {
	case "Service":
		for _, e := range validation.IsDNS1035Label(m.Name) {
			c.errorf(d, "metadata.name %q: %s", m.Name, e)
		}
	case "StatefulSet":
		// Pods are <name>-<ordinal> and get a controller-revision-hash label <name>-<hash>.
		for _, e := range validation.IsDNS1123Label(m.Name) {
			c.errorf(d, "metadata.name %q: %s", m.Name, e)
		}
		if len(m.Name) > 52 {
			c.errorf(d, "metadata.name %q is longer than 52 characters (pod revision label would overflow)", m.Name)
		}
	default:
		for _, e := range validation.IsDNS1123Subdomain(m.Name) {
			c.errorf(d, "metadata.name %q: %s", m.Name, e)
		}
	}
	if m.Namespace == "" {
		c.errorf(d, "metadata.namespace is empty (the chart sets it from .Release.Namespace)")
	}
	c.checkLabels(d, "metadata.labels", m.Labels)
	for k := range m.Annotations {
		for _, e := range validation.IsQualifiedName(k) {
			c.errorf(d, "annotation key %q: %s", k, e)
		}
	}
	for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
		if m.Labels[k] == "" {
			c.errorf(d, "standard label %s is missing", k)
		}
	}
}

func (c *checker) checkLabels(d *doc, where string, l map[string]string) {
	for k, v := range l {
		for _, e := range validation.IsQualifiedName(k) {
			c.errorf(d, "%s key %q: %s", where, k, e)
		}
		for _, e := range validation.IsValidLabelValue(v) {
			c.errorf(d, "%s %s=%q: %s", where, k, v, e)
		}
	}
}

func (c *checker) find(kind string) []*doc {
	var out []*doc
	for i := range c.docs {
		if c.docs[i].kind() == kind {
			out = append(out, &c.docs[i])
		}
	}
	return out
}

func (c *checker) findNamed(kind, name string) *doc {
	for _, d := range c.find(kind) {
		if d.meta().Name == name {
			return d
		}
	}
	return nil
}

func (c *checker) podTemplates() []*corev1.PodTemplateSpec {
	var out []*corev1.PodTemplateSpec
	for _, d := range c.docs {
		switch o := d.obj.(type) {
		case *appsv1.StatefulSet:
			out = append(out, &o.Spec.Template)
		case *appsv1.Deployment:
			out = append(out, &o.Spec.Template)
		}
	}
	return out
}

func (c *checker) selectorMatchesAPod(d *doc, what string, sel *metav1.LabelSelector) {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		c.errorf(d, "%s is empty (it would select every pod in the namespace)", what)
		return
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		c.errorf(d, "%s: %v", what, err)
		return
	}
	for _, t := range c.podTemplates() {
		if s.Matches(labels.Set(t.Labels)) {
			return
		}
	}
	c.errorf(d, "%s %s matches no pod template in the manifest", what, s)
}

func (c *checker) checkStatefulSet(d *doc, s *appsv1.StatefulSet) {
	spec := &s.Spec
	sel, err := metav1.LabelSelectorAsSelector(spec.Selector)
	if err != nil || spec.Selector == nil || sel.Empty() {
		c.errorf(d, "spec.selector is missing or invalid: %v", err)
	} else if !sel.Matches(labels.Set(spec.Template.Labels)) {
		c.errorf(d, "spec.selector %s does not match the pod template labels %v", sel, spec.Template.Labels)
	}
	c.checkLabels(d, "spec.template.metadata.labels", spec.Template.Labels)
	if spec.ServiceName == "" {
		c.errorf(d, "spec.serviceName is empty")
	} else if svc := c.findNamed("Service", spec.ServiceName); svc == nil {
		c.errorf(d, "spec.serviceName %q: no such Service in the manifest", spec.ServiceName)
	} else if o := svc.obj.(*corev1.Service); o.Spec.ClusterIP != corev1.ClusterIPNone {
		c.errorf(d, "spec.serviceName %q is not a headless Service (clusterIP: None)", spec.ServiceName)
	}
	if sum := spec.Template.Annotations["checksum/config"]; !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sum) {
		c.errorf(d, "pod template annotation checksum/config is %q, want a sha256 hex digest", sum)
	}
	c.checkPodSpec(d, &spec.Template.Spec)
}

func (c *checker) checkPodSpec(d *doc, p *corev1.PodSpec) {
	volumes := map[string]*corev1.Volume{}
	for i := range p.Volumes {
		v := &p.Volumes[i]
		for _, e := range validation.IsDNS1123Label(v.Name) {
			c.errorf(d, "volume name %q: %s", v.Name, e)
		}
		if volumes[v.Name] != nil {
			c.errorf(d, "volume %q declared twice", v.Name)
		}
		volumes[v.Name] = v
		if v.ConfigMap != nil && c.findNamed("ConfigMap", v.ConfigMap.Name) == nil {
			c.errorf(d, "volume %q: ConfigMap %q is not in the manifest", v.Name, v.ConfigMap.Name)
		}
		if v.Secret != nil {
			if v.Secret.SecretName == "" {
				c.errorf(d, "volume %q: secretName is empty", v.Name)
			}
			if m := v.Secret.DefaultMode; m != nil && (*m < 0 || *m > 0777) {
				c.errorf(d, "volume %q: defaultMode %d is out of range 0..0777", v.Name, *m)
			}
		}
	}
	if p.ServiceAccountName != "" && p.ServiceAccountName != "default" && c.findNamed("ServiceAccount", p.ServiceAccountName) == nil {
		c.errorf(d, "serviceAccountName %q is not in the manifest", p.ServiceAccountName)
	}
	psc := p.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.errorf(d, "pod securityContext.seccompProfile must be RuntimeDefault")
	}
	if len(p.Containers) == 0 {
		c.errorf(d, "no containers")
	}
	for i := range p.Containers {
		c.checkContainer(d, p, psc, &p.Containers[i], volumes)
	}
}

func (c *checker) checkContainer(d *doc, p *corev1.PodSpec, psc *corev1.PodSecurityContext, ct *corev1.Container, volumes map[string]*corev1.Volume) {
	where := "container " + ct.Name
	for _, e := range validation.IsDNS1123Label(ct.Name) {
		c.errorf(d, "%s: name: %s", where, e)
	}
	if ct.Image == "" {
		c.errorf(d, "%s: image is empty", where)
	}
	ports := map[string]int32{}
	for _, port := range ct.Ports {
		if port.Name != "" {
			for _, e := range validation.IsValidPortName(port.Name) {
				c.errorf(d, "%s: port name %q: %s", where, port.Name, e)
			}
			ports[port.Name] = port.ContainerPort
		}
		for _, e := range validation.IsValidPortNum(int(port.ContainerPort)) {
			c.errorf(d, "%s: containerPort %d: %s", where, port.ContainerPort, e)
		}
	}
	checkProbe := func(name string, pr *corev1.Probe, wantPath string) {
		if pr == nil {
			if wantPath != "" {
				c.errorf(d, "%s: %s is missing", where, name)
			}
			return
		}
		if pr.HTTPGet == nil {
			c.errorf(d, "%s: %s is not an httpGet probe", where, name)
			return
		}
		if wantPath != "" && pr.HTTPGet.Path != wantPath {
			c.errorf(d, "%s: %s path is %q, want %q", where, name, pr.HTTPGet.Path, wantPath)
		}
		if pn := pr.HTTPGet.Port.StrVal; pn != "" {
			if _, ok := ports[pn]; !ok {
				c.errorf(d, "%s: %s port %q is not a declared container port", where, name, pn)
			}
		}
		if name == "livenessProbe" && pr.SuccessThreshold > 1 {
			c.errorf(d, "%s: livenessProbe.successThreshold must be 1", where)
		}
	}
	checkProbe("livenessProbe", ct.LivenessProbe, "/healthz")
	checkProbe("readinessProbe", ct.ReadinessProbe, "/readyz")
	checkProbe("startupProbe", ct.StartupProbe, "")
	mounts := map[string]bool{}
	for _, m := range ct.VolumeMounts {
		v := volumes[m.Name]
		if v == nil {
			c.errorf(d, "%s: volumeMount %q refers to no volume", where, m.Name)
			continue
		}
		if !strings.HasPrefix(m.MountPath, "/") {
			c.errorf(d, "%s: mountPath %q is not absolute", where, m.MountPath)
		}
		if mounts[m.MountPath] {
			c.errorf(d, "%s: mountPath %q used twice", where, m.MountPath)
		}
		mounts[m.MountPath] = true
		if (v.Secret != nil || v.ConfigMap != nil) && !m.ReadOnly {
			c.errorf(d, "%s: %s is mounted writable; Secrets and ConfigMaps must be readOnly", where, m.MountPath)
		}
		if m.MountPath == "/tmp" && v.EmptyDir == nil {
			c.errorf(d, "%s: /tmp must be an emptyDir", where)
		}
	}
	if !mounts["/tmp"] {
		c.errorf(d, "%s: no emptyDir at /tmp (the root filesystem is read-only)", where)
	}
	for _, env := range ct.Env {
		for _, e := range validation.IsEnvVarName(env.Name) {
			c.errorf(d, "%s: env %q: %s", where, env.Name, e)
		}
	}
	if ct.Resources.Requests == nil {
		c.errorf(d, "%s: resources.requests is empty", where)
	}
	for name, req := range ct.Resources.Requests {
		if lim, ok := ct.Resources.Limits[name]; ok && req.Cmp(lim) > 0 {
			c.errorf(d, "%s: request %s=%s is above its limit %s", where, name, req.String(), lim.String())
		}
	}
	// Security: container settings override the pod's.
	sc := ct.SecurityContext
	if sc == nil {
		c.errorf(d, "%s: securityContext is missing", where)
		return
	}
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = psc.RunAsNonRoot
	}
	if nonRoot == nil || !*nonRoot {
		c.errorf(d, "%s: runAsNonRoot must be true", where)
	}
	uid := sc.RunAsUser
	if uid == nil {
		uid = psc.RunAsUser
	}
	if uid == nil || *uid == 0 {
		c.errorf(d, "%s: runAsUser must be set and non-zero", where)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		c.errorf(d, "%s: readOnlyRootFilesystem must be true", where)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		c.errorf(d, "%s: allowPrivilegeEscalation must be false", where)
	}
	if sc.Privileged != nil && *sc.Privileged {
		c.errorf(d, "%s: privileged must not be true", where)
	}
	dropAll := false
	if sc.Capabilities != nil {
		for _, cp := range sc.Capabilities.Drop {
			dropAll = dropAll || cp == "ALL"
		}
		if len(sc.Capabilities.Add) > 0 {
			c.errorf(d, "%s: capabilities.add must be empty, got %v", where, sc.Capabilities.Add)
		}
	}
	if !dropAll {
		c.errorf(d, "%s: capabilities.drop must contain ALL", where)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		c.errorf(d, "%s: seccompProfile must be RuntimeDefault", where)
	}
}

func (c *checker) checkService(d *doc, s *corev1.Service) {
	if len(s.Spec.Ports) == 0 {
		c.errorf(d, "spec.ports is empty")
	}
	for _, p := range s.Spec.Ports {
		for _, e := range validation.IsValidPortNum(int(p.Port)) {
			c.errorf(d, "port %d: %s", p.Port, e)
		}
		if p.Name != "" {
			for _, e := range validation.IsValidPortName(p.Name) {
				c.errorf(d, "port name %q: %s", p.Name, e)
			}
		}
		if tp := p.TargetPort.StrVal; tp != "" {
			found := false
			for _, t := range c.podTemplates() {
				for _, ct := range t.Spec.Containers {
					for _, cp := range ct.Ports {
						found = found || cp.Name == tp
					}
				}
			}
			if !found {
				c.errorf(d, "targetPort %q is not a container port of any workload", tp)
			}
		}
	}
	c.selectorMatchesAPod(d, "spec.selector", &metav1.LabelSelector{MatchLabels: s.Spec.Selector})
}

func (c *checker) checkConfigMap(d *doc, cm *corev1.ConfigMap) {
	for k, v := range cm.Data {
		for _, e := range validation.IsConfigMapKey(k) {
			c.errorf(d, "data key %q: %s", k, e)
		}
		switch {
		case strings.HasSuffix(k, ".yaml") || strings.HasSuffix(k, ".yml"):
			var m map[string]any
			if err := yaml.Unmarshal([]byte(v), &m); err != nil {
				c.errorf(d, "data %q is not a YAML map: %v", k, err)
			} else if k == "pipeline.yaml" {
				c.checkPipeline(d, m)
			}
		case strings.HasSuffix(k, ".json"):
			var m map[string]any
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				c.errorf(d, "data %q is not a JSON object: %v", k, err)
			} else if _, ok := cm.Labels["grafana_dashboard"]; ok && m["panels"] == nil {
				c.errorf(d, "data %q is not a Grafana dashboard (no panels)", k)
			}
		}
	}
}

func (c *checker) checkPipeline(d *doc, m map[string]any) {
	for _, k := range []string{"name", "input", "routes"} {
		if _, ok := m[k]; !ok {
			c.errorf(d, "pipeline.yaml: top-level %q is missing", k)
		}
	}
	metrics, _ := m["metrics"].(map[string]any)
	listen, _ := metrics["listen"].(string)
	if !strings.HasPrefix(listen, "0.0.0.0:") {
		c.errorf(d, "pipeline.yaml: metrics.listen is %q, want 0.0.0.0:<port>", listen)
	}
}

func (c *checker) checkPDB(d *doc, p *policyv1.PodDisruptionBudget) {
	if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
		c.errorf(d, "exactly one of minAvailable and maxUnavailable must be set")
	}
	c.selectorMatchesAPod(d, "spec.selector", p.Spec.Selector)
}

func (c *checker) checkServiceMonitor(d *doc, sm *ServiceMonitor) {
	if len(sm.Spec.Endpoints) == 0 {
		c.errorf(d, "spec.endpoints is empty")
	}
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || sel.Empty() {
		c.errorf(d, "spec.selector is missing or invalid: %v", err)
		return
	}
	dur := regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)
	var svcs []*corev1.Service
	for _, sd := range c.find("Service") {
		s := sd.obj.(*corev1.Service)
		if sel.Matches(labels.Set(s.Labels)) {
			svcs = append(svcs, s)
		}
	}
	if len(svcs) == 0 {
		c.errorf(d, "spec.selector %s matches no Service in the manifest", sel)
	}
	for i, ep := range sm.Spec.Endpoints {
		for _, v := range []string{ep.Interval, ep.ScrapeTimeout} {
			if v != "" && !dur.MatchString(v) {
				c.errorf(d, "endpoints[%d]: %q is not a Prometheus duration", i, v)
			}
		}
		if ep.Port == "" {
			c.errorf(d, "endpoints[%d]: port (a Service port name) is empty", i)
			continue
		}
		for _, s := range svcs {
			found := false
			for _, p := range s.Spec.Ports {
				found = found || p.Name == ep.Port
			}
			if !found {
				c.errorf(d, "endpoints[%d]: port %q is not a port of Service %s", i, ep.Port, s.Name)
			}
		}
		for _, r := range append(append([]RelabelConfig{}, ep.Relabelings...), ep.MetricRelabelings...) {
			if r.Regex != "" {
				if _, err := regexp.Compile(r.Regex); err != nil {
					c.errorf(d, "endpoints[%d]: relabel regex %q: %v", i, r.Regex, err)
				}
			}
		}
	}
}

func (c *checker) checkScaledObject(d *doc, so *ScaledObject) {
	ref := so.Spec.ScaleTargetRef
	target := c.findNamed(ref.Kind, ref.Name)
	if target == nil || ref.APIVersion != "apps/v1" {
		c.errorf(d, "scaleTargetRef %s %s/%s is not a workload in the manifest", ref.APIVersion, ref.Kind, ref.Name)
	} else if s, ok := target.obj.(*appsv1.StatefulSet); ok && s.Spec.Replicas != nil {
		c.errorf(d, "StatefulSet %s sets spec.replicas although KEDA owns the replica count", s.Name)
	}
	minR, maxR := int32(1), int32(100)
	if so.Spec.MinReplicaCount != nil {
		minR = *so.Spec.MinReplicaCount
	}
	if so.Spec.MaxReplicaCount != nil {
		maxR = *so.Spec.MaxReplicaCount
	}
	if minR < 0 || maxR < 1 || minR > maxR {
		c.errorf(d, "minReplicaCount %d / maxReplicaCount %d are inconsistent", minR, maxR)
	}
	if len(so.Spec.Triggers) == 0 {
		c.errorf(d, "spec.triggers is empty")
	}
	for i, t := range so.Spec.Triggers {
		if t.Type != "kafka" {
			continue
		}
		for _, k := range []string{"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} {
			if t.Metadata[k] == "" {
				c.errorf(d, "triggers[%d] (kafka): metadata.%s is missing", i, k)
			}
		}
		if v := t.Metadata["lagThreshold"]; v != "" && !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(v) {
			c.errorf(d, "triggers[%d]: lagThreshold %q is not a positive integer", i, v)
		}
		if t.AuthenticationRef != nil && t.AuthenticationRef.Name == "" {
			c.errorf(d, "triggers[%d]: authenticationRef.name is empty", i)
		}
	}
}

func (c *checker) check() {
	seen := map[string]int{}
	for i := range c.docs {
		d := &c.docs[i]
		key := d.gvk + "/" + d.meta().Name
		if prev, dup := seen[key]; dup {
			c.errorf(d, "same kind and name as document %d", prev)
		}
		seen[key] = d.index
		c.checkMeta(d)
		switch o := d.obj.(type) {
		case *appsv1.StatefulSet:
			c.checkStatefulSet(d, o)
		case *appsv1.Deployment:
			c.checkPodSpec(d, &o.Spec.Template.Spec)
		case *corev1.Service:
			c.checkService(d, o)
		case *corev1.ConfigMap:
			c.checkConfigMap(d, o)
		case *policyv1.PodDisruptionBudget:
			c.checkPDB(d, o)
		case *ServiceMonitor:
			c.checkServiceMonitor(d, o)
		case *ScaledObject:
			c.checkScaledObject(d, o)
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func main() {
	require := flag.String("require", "", "comma-separated kinds that must be present")
	forbid := flag.String("forbid", "", "comma-separated kinds that must be absent")
	verbose := flag.Bool("v", false, "list every valid document")
	flag.Parse()
	var data []byte
	var err error
	switch flag.NArg() {
	case 0:
		data, err = io.ReadAll(os.Stdin)
	case 1:
		data, err = os.ReadFile(flag.Arg(0))
	default:
		fmt.Fprintln(os.Stderr, "usage: validate [-require K,K] [-forbid K,K] [-v] [manifest.yaml]")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(2)
	}
	c := &checker{}
	raws := splitDocs(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")))
	if len(raws) == 0 {
		c.errs = append(c.errs, "no documents in the manifest")
	}
	for i, raw := range raws {
		c.decode(i+1, raw)
	}
	c.check()
	kinds := map[string]int{}
	for _, d := range c.docs {
		kinds[d.kind()]++
	}
	for _, k := range splitList(*require) {
		if kinds[k] == 0 {
			c.errs = append(c.errs, fmt.Sprintf("required kind %s is not in the manifest", k))
		}
	}
	for _, k := range splitList(*forbid) {
		if kinds[k] > 0 {
			c.errs = append(c.errs, fmt.Sprintf("kind %s must not be in the manifest", k))
		}
	}
	var names []string
	for k, n := range kinds {
		names = append(names, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(names)
	if *verbose {
		for _, d := range c.docs {
			fmt.Printf("  ok %s (%s)\n", d.String(), d.gvk)
		}
	}
	if len(c.errs) > 0 {
		for _, e := range c.errs {
			fmt.Fprintln(os.Stderr, "invalid:", e)
		}
		fmt.Fprintf(os.Stderr, "validate: %d error(s) in %d document(s)\n", len(c.errs), len(raws))
		os.Exit(1)
	}
	fmt.Printf("validate: %d document(s) valid: %s\n", len(c.docs), strings.Join(names, " "))
}
