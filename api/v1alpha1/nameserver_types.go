package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NameServerSpec is the desired state of a set of gorocket nameservers. Nameservers never
// talk to each other: each one holds the full routing table and brokers register with all of
// them, so running two or more gives high availability.
type NameServerSpec struct {
	// Replicas is the number of nameserver pods. Nameservers scale freely in both directions.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	Replicas *int32 `json:"replicas,omitempty"`

	// Image of the nameserver container. Empty means the operator's default nameserver image.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[^\s]+$`
	Image string `json:"image,omitempty"`

	// ImagePullPolicy of the nameserver container.
	// +optional
	// +kubebuilder:default=IfNotPresent
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// Resources of the nameserver container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// ListenPort is the TCP port nameservers listen on.
	// +optional
	// +kubebuilder:default=9876
	// +kubebuilder:validation:Minimum=1024
	// +kubebuilder:validation:Maximum=65535
	ListenPort int32 `json:"listenPort,omitempty"`

	// Pod customises the nameserver pods.
	// +optional
	Pod PodOverrides `json:"pod,omitempty"`
}

// NameServerStatus is the observed state of a NameServer.
type NameServerStatus struct {
	// ObservedGeneration is the metadata.generation the status was last fully reconciled for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Replicas is the number of nameserver pods the StatefulSet currently has.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// ReadyReplicas is the number of Ready nameserver pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// Addresses are the stable DNS names (host:port) of the nameservers, one per replica, in
	// ordinal order. Brokers and clients use them as their namesrvAddr list; a nameserver pod
	// can be replaced without changing them.
	// +optional
	// +listType=atomic
	Addresses []string `json:"addresses,omitempty"`

	// Selector is the label selector of the nameserver pods (for the scale subresource).
	// +optional
	Selector string `json:"selector,omitempty"`

	// Conditions: Available, AllReplicasReady, Progressing, ReconcileSuccess, Warning.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// NameServer is a set of gorocket nameservers (the routing registry of a cluster).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=rns,categories=gorocket
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter) because it names the Services"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="metadata.name must be at most 52 characters: pod names and their controller-revision-hash label derive from it"
type NameServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	// +kubebuilder:default={}
	Spec NameServerSpec `json:"spec,omitempty"`
	// +optional
	Status NameServerStatus `json:"status,omitempty"`
}

// NameServerList is a list of NameServers.
// +kubebuilder:object:root=true
type NameServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NameServer `json:"items"`
}
