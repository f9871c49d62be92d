// Package metadata names the children of the gorocket custom resources and gives them their
// labels and annotations. Every name the operator derives lives here, so the builders, the
// controllers and the tests agree on them.
package metadata

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gorocket/gorocket/api/v1alpha1"
)

// Well-known label keys (app.kubernetes.io recommended labels plus gorocket.io ones).
const (
	LabelName       = "app.kubernetes.io/name"
	LabelInstance   = "app.kubernetes.io/instance"
	LabelComponent  = "app.kubernetes.io/component"
	LabelPartOf     = "app.kubernetes.io/part-of"
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	LabelCluster    = "gorocket.io/cluster"
	LabelBrokerName = "gorocket.io/broker-name"
)

// Label values.
const (
	ManagedBy           = "gorocket-operator"
	PartOf              = "gorocket"
	NameNameServer      = "gorocket-namesrv"
	NameBroker          = "gorocket-broker"
	ComponentNameServer = "nameserver"
	ComponentBroker     = "broker"
)

// Annotations the operator puts on pod templates.
const (
	// AnnotationPodTemplateHash is a hash of the pod template the operator built. A pod whose
	// value differs from its StatefulSet template's is out of date and gets rolled.
	AnnotationPodTemplateHash = "gorocket.io/pod-template-hash"
	// AnnotationConfigHash is a hash of the rendered broker.properties; it puts configuration
	// changes into the pod template, so they roll the brokers.
	AnnotationConfigHash = "gorocket.io/config-hash"
)

// ConfigMap keys and in-container paths of the broker layout.
const (
	BrokerConfigKey    = "broker.properties"
	ConfigDir          = "/etc/gorocket"
	BrokerConfigPath   = ConfigDir + "/" + BrokerConfigKey
	DataDir            = "/var/lib/gorocket"
	StoreRootDir       = DataDir + "/store"
	StoreCommitLogDir  = StoreRootDir + "/commitlog"
	StoreVolumeName    = "store"
	ConfigVolumeName   = "config"
	TmpVolumeName      = "tmp"
	NameServerDataName = "data"
)

// Broker ports: main (clients and nameserver registration), HA (master ← slave replication),
// and the fixed layout's derived VIP port (listenPort-2), which the operator does not expose.
const (
	BrokerPort     int32 = 10911
	BrokerHAPort   int32 = BrokerPort + 1
	BrokerPortName       = "main"
	BrokerHAName         = "ha"
	NameServerPort       = "namesrv"
)

// NameServerSelectorLabels select the pods of a NameServer. They never change after creation.
func NameServerSelectorLabels(ns *v1alpha1.NameServer) map[string]string {
	return map[string]string{
		LabelName:      NameNameServer,
		LabelInstance:  ns.Name,
		LabelComponent: ComponentNameServer,
	}
}

// NameServerLabels are the labels of every child of a NameServer.
func NameServerLabels(ns *v1alpha1.NameServer) map[string]string {
	l := NameServerSelectorLabels(ns)
	l[LabelPartOf] = PartOf
	l[LabelManagedBy] = ManagedBy
	return l
}

// BrokerSelectorLabels select the pods of a BrokerGroup. They never change after creation.
func BrokerSelectorLabels(bg *v1alpha1.BrokerGroup) map[string]string {
	return map[string]string{
		LabelName:      NameBroker,
		LabelInstance:  bg.Name,
		LabelComponent: ComponentBroker,
	}
}

// BrokerLabels are the labels of every child of a BrokerGroup.
func BrokerLabels(bg *v1alpha1.BrokerGroup) map[string]string {
	l := BrokerSelectorLabels(bg)
	l[LabelPartOf] = PartOf
	l[LabelManagedBy] = ManagedBy
	l[LabelCluster] = bg.Spec.ClusterName
	l[LabelBrokerName] = bg.EffectiveBrokerName()
	return l
}

// NameServerStatefulSetName is the StatefulSet (and pod name prefix) of a NameServer.
func NameServerStatefulSetName(ns *v1alpha1.NameServer) string { return ns.Name }

// NameServerHeadlessServiceName is the headless Service giving each nameserver pod its DNS name.
func NameServerHeadlessServiceName(ns *v1alpha1.NameServer) string { return ns.Name + "-headless" }

// NameServerServiceName is the ClusterIP Service clients may use to fetch routes.
func NameServerServiceName(ns *v1alpha1.NameServer) string { return ns.Name }

// BrokerStatefulSetName is the StatefulSet (and pod name prefix) of a BrokerGroup.
func BrokerStatefulSetName(bg *v1alpha1.BrokerGroup) string { return bg.Name }

// BrokerHeadlessServiceName is the headless Service giving each broker pod its DNS name.
func BrokerHeadlessServiceName(bg *v1alpha1.BrokerGroup) string { return bg.Name + "-headless" }

// BrokerConfigMapName holds the group's rendered broker.properties.
func BrokerConfigMapName(bg *v1alpha1.BrokerGroup) string { return bg.Name + "-config" }

// BrokerPDBName is the group's PodDisruptionBudget.
func BrokerPDBName(bg *v1alpha1.BrokerGroup) string { return bg.Name }

// PodName is the name of the StatefulSet pod with the given ordinal.
func PodName(statefulSet string, ordinal int) string {
	return statefulSet + "-" + strconv.Itoa(ordinal)
}

// PodOrdinal parses the ordinal of a StatefulSet pod from its name.
func PodOrdinal(statefulSet, pod string) (int, bool) {
	rest, ok := strings.CutPrefix(pod, statefulSet+"-")
	if !ok || rest == "" {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// ServiceDomain is the DNS suffix of Services in a namespace: "<ns>.svc", or
// "<ns>.svc.<clusterDomain>" when the cluster domain is given.
func ServiceDomain(namespace, clusterDomain string) string {
	d := namespace + ".svc"
	if clusterDomain != "" {
		d += "." + strings.TrimSuffix(clusterDomain, ".")
	}
	return d
}

// PodDNSName is the stable DNS name of a StatefulSet pod behind a headless Service.
func PodDNSName(pod, headlessService, namespace, clusterDomain string) string {
	return pod + "." + headlessService + "." + ServiceDomain(namespace, clusterDomain)
}

// NameServerAddresses are the stable host:port addresses of a NameServer's pods, ordinal 0
// first: what brokers and clients use as namesrvAddr.
func NameServerAddresses(ns *v1alpha1.NameServer, clusterDomain string) []string {
	n := int32(2)
	if ns.Spec.Replicas != nil {
		n = *ns.Spec.Replicas
	}
	port := ns.Spec.ListenPort
	if port == 0 {
		port = 9876
	}
	out := make([]string, 0, n)
	for i := 0; i < int(n); i++ {
		host := PodDNSName(PodName(NameServerStatefulSetName(ns), i), NameServerHeadlessServiceName(ns), ns.Namespace, clusterDomain)
		out = append(out, fmt.Sprintf("%s:%d", host, port))
	}
	return out
}
