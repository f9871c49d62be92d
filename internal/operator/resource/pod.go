package resource

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/gorocket/gorocket/api/v1alpha1"
)

// nonRootID is the uid and gid the containers run as (distroless "nonroot").
const nonRootID int64 = 65532

// preStopSeconds delays SIGTERM so that endpoints and clients notice the pod is terminating
// before the daemon stops accepting connections.
const preStopSeconds int64 = 5

// defaultPodSecurityContext: non-root, RuntimeDefault seccomp, volumes group-owned by the
// container user so the store is writable.
func defaultPodSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:        ptrTo(true),
		RunAsUser:           ptrTo(nonRootID),
		RunAsGroup:          ptrTo(nonRootID),
		FSGroup:             ptrTo(nonRootID),
		FSGroupChangePolicy: ptrTo(corev1.FSGroupChangeOnRootMismatch),
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func defaultContainerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptrTo(false),
		ReadOnlyRootFilesystem:   ptrTo(true),
		RunAsNonRoot:             ptrTo(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
}

// tcpProbe checks that the daemon accepts TCP connections on a named port; all fields the API
// server would default are set, so a re-applied template equals the stored one.
func tcpProbe(port string, initialDelay, period, failures int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(port)}},
		InitialDelaySeconds: initialDelay,
		TimeoutSeconds:      1,
		PeriodSeconds:       period,
		SuccessThreshold:    1,
		FailureThreshold:    failures,
	}
}

// podEnv are the downward-API variables every gorocket container gets.
func podEnv() []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}},
		// The daemons keep small state files under $HOME (nameserver kvConfig); point it at
		// a writable volume since the root filesystem is read-only.
		{Name: "HOME", Value: "/var/lib/gorocket"},
	}
}

// defaultSpread spreads a set of pods over nodes, best effort, so a master and its slaves
// (or the nameservers) do not share a node when the cluster has enough of them.
func defaultSpread(selector map[string]string) []corev1.TopologySpreadConstraint {
	return []corev1.TopologySpreadConstraint{{
		MaxSkew:           1,
		TopologyKey:       corev1.LabelHostname,
		WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector:     &metav1.LabelSelector{MatchLabels: selector},
	}}
}

// applyPodOverrides copies the user's pod settings onto spec, after the operator defaults,
// so the user's choices win. Labels and annotations are merged by the caller.
func applyPodOverrides(spec *corev1.PodSpec, o v1alpha1.PodOverrides, selector map[string]string, defaultGrace int64) {
	spec.SecurityContext = defaultPodSecurityContext()
	if o.SecurityContext != nil {
		spec.SecurityContext = o.SecurityContext.DeepCopy()
	}
	for i := range spec.Containers {
		spec.Containers[i].SecurityContext = defaultContainerSecurityContext()
		if o.ContainerSecurityContext != nil {
			spec.Containers[i].SecurityContext = o.ContainerSecurityContext.DeepCopy()
		}
	}
	spec.Affinity = o.Affinity.DeepCopy()
	spec.Tolerations = deepCopyTolerations(o.Tolerations)
	spec.NodeSelector = nil
	if len(o.NodeSelector) > 0 {
		spec.NodeSelector = mergeMap(nil, o.NodeSelector)
	}
	spec.TopologySpreadConstraints = nil
	switch {
	case len(o.TopologySpreadConstraints) > 0:
		for _, c := range o.TopologySpreadConstraints {
			spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints, *c.DeepCopy())
		}
	case o.Affinity == nil:
		spec.TopologySpreadConstraints = defaultSpread(selector)
	}
	spec.PriorityClassName = o.PriorityClassName
	spec.ServiceAccountName = o.ServiceAccountName
	spec.DeprecatedServiceAccount = o.ServiceAccountName
	spec.ImagePullSecrets = nil
	if len(o.ImagePullSecrets) > 0 {
		spec.ImagePullSecrets = append([]corev1.LocalObjectReference(nil), o.ImagePullSecrets...)
	}
	spec.TerminationGracePeriodSeconds = ptrTo(defaultGrace)
	if o.TerminationGracePeriodSeconds != nil {
		spec.TerminationGracePeriodSeconds = ptrTo(*o.TerminationGracePeriodSeconds)
	}
	// Values the API server would otherwise default.
	spec.RestartPolicy = corev1.RestartPolicyAlways
	spec.DNSPolicy = corev1.DNSClusterFirst
	spec.SchedulerName = corev1.DefaultSchedulerName
	spec.EnableServiceLinks = ptrTo(false)
}

func deepCopyTolerations(in []corev1.Toleration) []corev1.Toleration {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.Toleration, len(in))
	for i := range in {
		in[i].DeepCopyInto(&out[i])
	}
	return out
}

func pullPolicy(p corev1.PullPolicy) corev1.PullPolicy {
	if p == "" {
		return corev1.PullIfNotPresent
	}
	return p
}

// preStop waits a few seconds before the kubelet sends SIGTERM (needs Kubernetes >= 1.30 for
// the sleep action); the daemons then shut down gracefully on SIGTERM.
func preStop() *corev1.Lifecycle {
	return &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: preStopSeconds}}}
}
