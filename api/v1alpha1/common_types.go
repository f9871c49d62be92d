package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
)

// PauseReconcileAnnotation, set to "true" on a NameServer or BrokerGroup, stops the operator
// from changing anything for that object: no child is created, updated, scaled or restarted.
// The status still reports what is observed, with the Warning condition's reason Paused.
const PauseReconcileAnnotation = "gorocket.io/pause-reconcile"

// Condition types shared by NameServer and BrokerGroup.
const (
	// ConditionAvailable is True when the object serves traffic: at least one nameserver
	// is Ready, or the group's master is Ready.
	ConditionAvailable = "Available"
	// ConditionAllReplicasReady is True when every desired replica exists, runs the
	// current pod template and is Ready.
	ConditionAllReplicasReady = "AllReplicasReady"
	// ConditionProgressing is True while the operator moves the children towards the spec:
	// a rolling restart, a scale up or down, or pods that have not become Ready yet.
	ConditionProgressing = "Progressing"
	// ConditionReconcileSuccess is False when the last reconcile failed; the reason tells
	// a user error (InvalidSpec, NameServerNotFound, ChildConflict) from a transient one
	// (Error, retried with back-off).
	ConditionReconcileSuccess = "ReconcileSuccess"
	// ConditionWarning is True when the operator deliberately did not do what the spec asks,
	// or needs attention: reasons ScaleDownRefused, Paused, RollBlocked.
	ConditionWarning = "Warning"
	// ConditionBrokersRegistered (BrokerGroup, only when the operator has an admin client) is
	// True when the nameservers list every broker pod of the group.
	ConditionBrokersRegistered = "BrokersRegistered"
)

// Condition reasons.
const (
	ReasonAllPodsReady        = "AllPodsReady"
	ReasonPodsNotReady        = "PodsNotReady"
	ReasonMasterReady         = "MasterReady"
	ReasonMasterNotReady      = "MasterNotReady"
	ReasonNameServerReady     = "NameServerReady"
	ReasonNoNameServerReady   = "NoNameServerReady"
	ReasonNoStatefulSet       = "StatefulSetMissing"
	ReasonRollingRestart      = "RollingRestart"
	ReasonScaling             = "Scaling"
	ReasonWaitingForPods      = "WaitingForPods"
	ReasonUpToDate            = "UpToDate"
	ReasonSuccess             = "Success"
	ReasonInvalidSpec         = "InvalidSpec"
	ReasonNameServerNotFound  = "NameServerNotFound"
	ReasonChildConflict       = "ChildConflict"
	ReasonError               = "Error"
	ReasonNoWarnings          = "NoWarnings"
	ReasonScaleDownRefused    = "ScaleDownRefused"
	ReasonPaused              = "Paused"
	ReasonRollBlocked         = "RollBlocked"
	ReasonBrokersRegistered   = "BrokersRegistered"
	ReasonBrokersUnregistered = "BrokersNotRegistered"
	ReasonAdminUnavailable    = "AdminUnavailable"
)

// PodOverrides customise the pods the operator creates. Fields left empty keep the operator's
// defaults (for example, a topology spread of the replicas across nodes).
// +kubebuilder:validation:XValidation:rule="!has(self.labels) || self.labels.all(k, !k.startsWith('app.kubernetes.io/') && !k.startsWith('gorocket.io/'))",message="pod.labels must not use the app.kubernetes.io/ or gorocket.io/ prefixes: the operator owns them"
// +kubebuilder:validation:XValidation:rule="!has(self.annotations) || self.annotations.all(k, !k.startsWith('gorocket.io/'))",message="pod.annotations must not use the gorocket.io/ prefix: the operator owns it"
type PodOverrides struct {
	// Annotations added to every pod.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Annotations map[string]string `json:"annotations,omitempty"`

	// Labels added to every pod (never to the selector).
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Labels map[string]string `json:"labels,omitempty"`

	// Affinity of the pods. Setting it (or topologySpreadConstraints) replaces the default
	// spread of the replicas across nodes.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// Tolerations of the pods.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// NodeSelector of the pods.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// TopologySpreadConstraints of the pods. When empty, and affinity is not set, the operator
	// spreads the replicas across nodes (kubernetes.io/hostname, maxSkew 1, ScheduleAnyway).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// SecurityContext of the pods. When unset, pods run as non-root user 65532 with a
	// RuntimeDefault seccomp profile.
	// +optional
	SecurityContext *corev1.PodSecurityContext `json:"securityContext,omitempty"`

	// ContainerSecurityContext of the main container. When unset: no privilege escalation,
	// all capabilities dropped, read-only root filesystem.
	// +optional
	ContainerSecurityContext *corev1.SecurityContext `json:"containerSecurityContext,omitempty"`

	// PriorityClassName of the pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// ServiceAccountName the pods run as. Empty means the namespace's default.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ServiceAccountName string `json:"serviceAccountName,omitempty"`

	// ImagePullSecrets of the pods.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// TerminationGracePeriodSeconds: how long a pod may take to shut down after SIGTERM.
	// Defaults to 30 for nameservers and 60 for brokers (which flush to disk).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}
