package resource

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
)

const nameServerGraceSeconds int64 = 30

// NameServerBuilders returns the builders of a NameServer's children, in the order they must
// be applied: the headless Service first (it gives the StatefulSet's pods their DNS names),
// then the client Service, then the StatefulSet.
func NameServerBuilders(ns *v1alpha1.NameServer, d Defaults) []Builder {
	return []Builder{
		&nameServerHeadlessService{ns: ns},
		&nameServerClientService{ns: ns},
		&nameServerStatefulSet{ns: ns, d: d},
	}
}

func nameServerPort(ns *v1alpha1.NameServer) int32 {
	if ns.Spec.ListenPort == 0 {
		return 9876
	}
	return ns.Spec.ListenPort
}

func nameServerReplicas(ns *v1alpha1.NameServer) int32 {
	if ns.Spec.Replicas == nil {
		return 2
	}
	return *ns.Spec.Replicas
}

func nameServerServicePorts(ns *v1alpha1.NameServer) []corev1.ServicePort {
	p := nameServerPort(ns)
	return []corev1.ServicePort{{
		Name:       metadata.NameServerPort,
		Protocol:   corev1.ProtocolTCP,
		Port:       p,
		TargetPort: intstr.FromInt32(p),
	}}
}

type nameServerHeadlessService struct{ ns *v1alpha1.NameServer }

func (b *nameServerHeadlessService) Build() client.Object {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: metadata.NameServerHeadlessServiceName(b.ns), Namespace: b.ns.Namespace}}
}

func (b *nameServerHeadlessService) Update(obj client.Object) error {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return wrongType("Service", obj)
	}
	svc.Labels = mergeMap(svc.Labels, metadata.NameServerLabels(b.ns))
	updateHeadlessService(svc, metadata.NameServerSelectorLabels(b.ns), nameServerServicePorts(b.ns))
	return nil
}

// updateHeadlessService makes svc a headless Service that publishes not-ready pods too: a pod's
// DNS name must resolve while it starts (brokers register, slaves reach their master).
func updateHeadlessService(svc *corev1.Service, selector map[string]string, ports []corev1.ServicePort) {
	if svc.CreationTimestamp.IsZero() {
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	}
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Selector = selector
	svc.Spec.Ports = ports
	svc.Spec.PublishNotReadyAddresses = true
	svc.Spec.SessionAffinity = corev1.ServiceAffinityNone
}

type nameServerClientService struct{ ns *v1alpha1.NameServer }

func (b *nameServerClientService) Build() client.Object {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: metadata.NameServerServiceName(b.ns), Namespace: b.ns.Namespace}}
}

func (b *nameServerClientService) Update(obj client.Object) error {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return wrongType("Service", obj)
	}
	svc.Labels = mergeMap(svc.Labels, metadata.NameServerLabels(b.ns))
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Selector = metadata.NameServerSelectorLabels(b.ns)
	svc.Spec.Ports = nameServerServicePorts(b.ns)
	svc.Spec.PublishNotReadyAddresses = false
	svc.Spec.SessionAffinity = corev1.ServiceAffinityNone
	return nil
}

type nameServerStatefulSet struct {
	ns *v1alpha1.NameServer
	d  Defaults
}

func (b *nameServerStatefulSet) Build() client.Object {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: metadata.NameServerStatefulSetName(b.ns), Namespace: b.ns.Namespace}}
}

// Update: nameservers are independent of each other, so the StatefulSet starts them in
// parallel and the StatefulSet controller rolls them (RollingUpdate, one at a time).
func (b *nameServerStatefulSet) Update(obj client.Object) error {
	sts, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return wrongType("StatefulSet", obj)
	}
	selector := metadata.NameServerSelectorLabels(b.ns)
	sts.Labels = mergeMap(sts.Labels, metadata.NameServerLabels(b.ns))
	if sts.CreationTimestamp.IsZero() {
		// Immutable after creation.
		sts.Spec.Selector = &metav1.LabelSelector{MatchLabels: selector}
		sts.Spec.ServiceName = metadata.NameServerHeadlessServiceName(b.ns)
		sts.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	}
	sts.Spec.Replicas = ptrTo(nameServerReplicas(b.ns))
	sts.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{
		Type:          appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptrTo(int32(0))},
	}
	sts.Spec.RevisionHistoryLimit = ptrTo(int32(10))
	sts.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}
	sts.Spec.Template = NameServerPodTemplate(b.ns, b.d)
	return nil
}

// NameServerPodTemplate is the pod template of a NameServer, with its hash annotation.
func NameServerPodTemplate(ns *v1alpha1.NameServer, d Defaults) corev1.PodTemplateSpec {
	selector := metadata.NameServerSelectorLabels(ns)
	image := ns.Spec.Image
	if image == "" {
		image = d.NameServerImage
	}
	port := nameServerPort(ns)
	c := corev1.Container{
		Name:            "namesrv",
		Image:           image,
		ImagePullPolicy: pullPolicy(ns.Spec.ImagePullPolicy),
		Args:            []string{"--listen", fmt.Sprintf("0.0.0.0:%d", port)},
		Env:             podEnv(),
		Ports: []corev1.ContainerPort{{
			Name: metadata.NameServerPort, ContainerPort: port, Protocol: corev1.ProtocolTCP,
		}},
		Resources:                *ns.Spec.Resources.DeepCopy(),
		StartupProbe:             tcpProbe(metadata.NameServerPort, 0, 2, 30),
		ReadinessProbe:           tcpProbe(metadata.NameServerPort, 0, 5, 3),
		LivenessProbe:            tcpProbe(metadata.NameServerPort, 0, 10, 3),
		Lifecycle:                preStop(),
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		VolumeMounts: []corev1.VolumeMount{
			{Name: metadata.NameServerDataName, MountPath: metadata.DataDir},
			{Name: metadata.TmpVolumeName, MountPath: "/tmp"},
		},
	}
	t := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      mergeMap(ns.Spec.Pod.Labels, metadata.NameServerLabels(ns)),
			Annotations: mergeMap(ns.Spec.Pod.Annotations, nil),
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{c},
			Volumes: []corev1.Volume{
				{Name: metadata.NameServerDataName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: metadata.TmpVolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	applyPodOverrides(&t.Spec, ns.Spec.Pod, selector, nameServerGraceSeconds)
	t.Annotations[metadata.AnnotationPodTemplateHash] = hashOf(t)
	return t
}
