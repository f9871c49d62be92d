package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReplicationMode is how a master replicates to its slaves.
// +kubebuilder:validation:Enum=Sync;Async
type ReplicationMode string

const (
	// ReplicationSync: a send succeeds only once the master and a slave have written it
	// (brokerRole SYNC_MASTER). Needs at least one slave.
	ReplicationSync ReplicationMode = "Sync"
	// ReplicationAsync: the master acknowledges before slaves copy (brokerRole ASYNC_MASTER).
	ReplicationAsync ReplicationMode = "Async"
)

// FlushDiskType is when the broker fsyncs the commit log.
// +kubebuilder:validation:Enum=Sync;Async
type FlushDiskType string

const (
	// FlushSync fsyncs before acknowledging a send (SYNC_FLUSH).
	FlushSync FlushDiskType = "Sync"
	// FlushAsync fsyncs in the background (ASYNC_FLUSH).
	FlushAsync FlushDiskType = "Async"
)

// ReclaimPolicy says what happens to a broker's PersistentVolumeClaim when its pod is removed
// by a scale-down or when the BrokerGroup is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type ReclaimPolicy string

const (
	// ReclaimRetain keeps the claims (and the messages on them).
	ReclaimRetain ReclaimPolicy = "Retain"
	// ReclaimDelete deletes the claims with the pods.
	ReclaimDelete ReclaimPolicy = "Delete"
)

// BrokerRole values reported in the member status (the brokerRole property).
const (
	RoleSyncMaster  = "SYNC_MASTER"
	RoleAsyncMaster = "ASYNC_MASTER"
	RoleSlave       = "SLAVE"
)

// NameServerReference names a NameServer object.
type NameServerReference struct {
	// Name of the NameServer.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Namespace of the NameServer; empty means the BrokerGroup's namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// BrokerStorage is the persistent volume of each broker pod, mounted at the store root.
// +kubebuilder:validation:XValidation:rule="!has(self.size) || !has(oldSelf.size) || self.size == oldSelf.size",message="storage.size is immutable (StatefulSet volume claim templates cannot change); expand the PersistentVolumeClaims directly"
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="storage.storageClassName is immutable"
// +kubebuilder:validation:XValidation:rule="!has(self.size) || quantity(string(self.size)).isGreaterThan(quantity('0'))",message="storage.size must be greater than zero"
type BrokerStorage struct {
	// Size of each broker's volume.
	// +optional
	// +kubebuilder:default="10Gi"
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName of the claims; empty means the cluster's default class.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`

	// ReclaimPolicy of the claims when pods are removed by a scale-down or the group is deleted.
	// +optional
	// +kubebuilder:default=Retain
	ReclaimPolicy ReclaimPolicy `json:"reclaimPolicy,omitempty"`
}

// BrokerGroupSpec is the desired state of one broker group: a master (brokerId 0) and its
// slaves (brokerId 1..replicas-1), all sharing one brokerName.
// +kubebuilder:validation:XValidation:rule="has(self.nameServerRef) != has(self.nameServerAddresses)",message="exactly one of nameServerRef or nameServerAddresses must be set"
// +kubebuilder:validation:XValidation:rule="self.replicationMode != 'Sync' || self.replicas >= 2",message="replicationMode Sync needs replicas >= 2 (a master and at least one slave); use Async for a master without slaves"
type BrokerGroupSpec struct {
	// ClusterName is the brokerClusterName the group registers under. Immutable.
	// +optional
	// +kubebuilder:default=DefaultCluster
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="clusterName is immutable"
	ClusterName string `json:"clusterName,omitempty"`

	// BrokerName shared by the master and its slaves. Defaults to the object's name. Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	BrokerName string `json:"brokerName,omitempty"`

	// Replicas is the number of brokers: 1 is a master alone, n is a master and n-1 slaves.
	// Lowering it removes the highest-ordinal slaves; the master is never removed.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	Replicas int32 `json:"replicas,omitempty"`

	// ReplicationMode between the master and its slaves: Sync (SYNC_MASTER) or Async (ASYNC_MASTER).
	// +optional
	// +kubebuilder:default=Async
	ReplicationMode ReplicationMode `json:"replicationMode,omitempty"`

	// FlushDiskType: Sync (SYNC_FLUSH) or Async (ASYNC_FLUSH).
	// +optional
	// +kubebuilder:default=Async
	FlushDiskType FlushDiskType `json:"flushDiskType,omitempty"`

	// NameServerRef points to the NameServer the brokers register with. Exclusive with
	// nameServerAddresses.
	// +optional
	NameServerRef *NameServerReference `json:"nameServerRef,omitempty"`

	// NameServerAddresses lists host:port nameserver addresses explicitly. Exclusive with
	// nameServerRef.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=261
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}$`
	NameServerAddresses []string `json:"nameServerAddresses,omitempty"`

	// Storage of each broker.
	// +optional
	// +kubebuilder:default={size: "10Gi", reclaimPolicy: "Retain"}
	Storage BrokerStorage `json:"storage,omitempty"`

	// Config holds extra broker properties (RocketMQ key names, e.g. fileReservedTime: "72").
	// Keys the operator sets from other fields (brokerClusterName, brokerName, brokerId,
	// brokerRole, flushDiskType, namesrvAddr, listenPort, haListenPort, brokerIP1, brokerIP2
	// and the store paths) are refused; unknown keys are reported in the ReconcileSuccess
	// condition. A change rolls the brokers, slaves first.
	// +optional
	// +kubebuilder:validation:MaxProperties=128
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[A-Za-z][A-Za-z0-9.]*$'))",message="config keys must be broker property names (letters, digits and dots, starting with a letter)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['brokerClusterName', 'brokerName', 'brokerId', 'brokerRole', 'flushDiskType', 'namesrvAddr', 'listenPort', 'haListenPort', 'brokerIP1', 'brokerIP2', 'storePathRootDir', 'storePathCommitLog', 'storePathConsumeQueue', 'storePathIndex', 'storeCheckpoint', 'abortFile']))",message="config must not set operator-owned keys (brokerClusterName, brokerName, brokerId, brokerRole, flushDiskType, namesrvAddr, listenPort, haListenPort, brokerIP1, brokerIP2, store paths): use the dedicated spec fields"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 1024)",message="config values must be at most 1024 characters"
	Config map[string]string `json:"config,omitempty"`

	// Image of the broker container. Empty means the operator's default broker image.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[^\s]+$`
	Image string `json:"image,omitempty"`

	// ImagePullPolicy of the broker container.
	// +optional
	// +kubebuilder:default=IfNotPresent
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// Resources of the broker container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// Pod customises the broker pods.
	// +optional
	Pod PodOverrides `json:"pod,omitempty"`
}

// BrokerMember is one broker pod of the group.
type BrokerMember struct {
	// Pod name.
	Pod string `json:"pod"`
	// BrokerID: 0 for the master, the pod ordinal for a slave.
	BrokerID int64 `json:"brokerId"`
	// Role: SYNC_MASTER, ASYNC_MASTER or SLAVE.
	Role string `json:"role"`
	// Ready is the pod's Ready condition.
	Ready bool `json:"ready"`
	// Updated is true when the pod runs the current pod template (configuration and spec).
	Updated bool `json:"updated"`
	// Registered says whether the nameservers list this broker; unset when the operator has
	// no admin client.
	// +optional
	Registered *bool `json:"registered,omitempty"`
}

// BrokerGroupStatus is the observed state of a BrokerGroup.
type BrokerGroupStatus struct {
	// ObservedGeneration is the metadata.generation the status was last fully reconciled for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// BrokerName in effect (spec.brokerName or the object's name).
	// +optional
	BrokerName string `json:"brokerName,omitempty"`

	// Replicas is the number of broker pods the StatefulSet currently has. It differs from
	// spec.replicas while scaling, and when a scale-down is refused.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// ReadyReplicas is the number of Ready broker pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// UpdatedReplicas is the number of broker pods running the current pod template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`

	// NameServerAddresses the brokers are configured with.
	// +optional
	// +listType=atomic
	NameServerAddresses []string `json:"nameServerAddresses,omitempty"`

	// Members lists the broker pods in ordinal order.
	// +optional
	// +listType=map
	// +listMapKey=pod
	Members []BrokerMember `json:"members,omitempty"`

	// Selector is the label selector of the broker pods (for the scale subresource).
	// +optional
	Selector string `json:"selector,omitempty"`

	// Conditions: Available, AllReplicasReady, Progressing, ReconcileSuccess, Warning
	// (and BrokersRegistered when the operator has an admin client).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BrokerGroup is one broker name of a gorocket cluster: a master and its slaves.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=rbg,categories=gorocket
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.replicationMode`
// +kubebuilder:printcolumn:name="Available",type=string,JSONPath=`.status.conditions[?(@.type=="Available")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter) because it names the Services"
// +kubebuilder:validation:XValidation:rule="size(self.metadata.name) <= 52",message="metadata.name must be at most 52 characters: pod names and their controller-revision-hash label derive from it"
// +kubebuilder:validation:XValidation:rule="(has(self.spec.brokerName) ? self.spec.brokerName : self.metadata.name) == (has(oldSelf.spec.brokerName) ? oldSelf.spec.brokerName : oldSelf.metadata.name)",message="brokerName is immutable"
type BrokerGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BrokerGroupSpec `json:"spec"`
	// +optional
	Status BrokerGroupStatus `json:"status,omitempty"`
}

// EffectiveBrokerName is spec.brokerName, or the object's name when it is empty.
func (b *BrokerGroup) EffectiveBrokerName() string {
	if b.Spec.BrokerName != "" {
		return b.Spec.BrokerName
	}
	return b.Name
}

// RoleOf is the brokerRole of the group's pod with the given ordinal: ordinal 0 is the master
// (SYNC_MASTER or ASYNC_MASTER after replicationMode), every other ordinal a SLAVE.
func (b *BrokerGroup) RoleOf(ordinal int) string {
	switch {
	case ordinal > 0:
		return RoleSlave
	case b.Spec.ReplicationMode == ReplicationSync:
		return RoleSyncMaster
	default:
		return RoleAsyncMaster
	}
}

// BrokerGroupList is a list of BrokerGroups.
// +kubebuilder:object:root=true
type BrokerGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BrokerGroup `json:"items"`
}
