package resource

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
)

// DefaultStorageSize is the store volume size when the spec gives none (the CRD defaults it too).
const DefaultStorageSize = "10Gi"

// brokerGraceSeconds: a broker flushes its commit log and unregisters on SIGTERM.
const brokerGraceSeconds int64 = 60

// BrokerGroupInput is everything the BrokerGroup builders need, resolved by the controller.
type BrokerGroupInput struct {
	Group    *v1alpha1.BrokerGroup
	Defaults Defaults
	// Properties is the rendered broker.properties (RenderBrokerProperties) and PropertiesHash
	// its hash, which goes into the pod template so that a change rolls the brokers.
	Properties     string
	PropertiesHash string
	// Replicas is the number of pods to run: spec.replicas, or the current count while a
	// scale-down is refused.
	Replicas int32
}

// BrokerGroupBuilders returns the builders of a BrokerGroup's children in apply order: the
// ConfigMap first (the pods mount it, and its hash is in the pod template), the headless Service
// (it gives the pods the DNS names they advertise as brokerIP1), the StatefulSet, then the
// PodDisruptionBudget.
func BrokerGroupBuilders(in BrokerGroupInput) []Builder {
	return []Builder{
		&brokerConfigMap{in: in},
		&brokerHeadlessService{g: in.Group},
		&brokerStatefulSet{in: in},
		&brokerPDB{g: in.Group},
	}
}

type brokerConfigMap struct{ in BrokerGroupInput }

func (b *brokerConfigMap) Build() client.Object {
	g := b.in.Group
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: metadata.BrokerConfigMapName(g), Namespace: g.Namespace}}
}

func (b *brokerConfigMap) Update(obj client.Object) error {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return wrongType("ConfigMap", obj)
	}
	cm.Labels = mergeMap(cm.Labels, metadata.BrokerLabels(b.in.Group))
	cm.Data = map[string]string{metadata.BrokerConfigKey: b.in.Properties}
	return nil
}

type brokerHeadlessService struct{ g *v1alpha1.BrokerGroup }

func (b *brokerHeadlessService) Build() client.Object {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: metadata.BrokerHeadlessServiceName(b.g), Namespace: b.g.Namespace}}
}

func (b *brokerHeadlessService) Update(obj client.Object) error {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return wrongType("Service", obj)
	}
	svc.Labels = mergeMap(svc.Labels, metadata.BrokerLabels(b.g))
	updateHeadlessService(svc, metadata.BrokerSelectorLabels(b.g), []corev1.ServicePort{
		{Name: metadata.BrokerPortName, Protocol: corev1.ProtocolTCP, Port: metadata.BrokerPort, TargetPort: intstr.FromInt32(metadata.BrokerPort)},
		{Name: metadata.BrokerHAName, Protocol: corev1.ProtocolTCP, Port: metadata.BrokerHAPort, TargetPort: intstr.FromInt32(metadata.BrokerHAPort)},
	})
	return nil
}

type brokerStatefulSet struct{ in BrokerGroupInput }

func (b *brokerStatefulSet) Build() client.Object {
	g := b.in.Group
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: metadata.BrokerStatefulSetName(g), Namespace: g.Namespace}}
}

// Update: pods start in parallel (a slave retries until its master is up), and are never
// replaced by the StatefulSet controller on a template change (OnDelete): the operator deletes
// them one by one, slaves first, master last, each after the previous one is Ready again.
func (b *brokerStatefulSet) Update(obj client.Object) error {
	sts, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return wrongType("StatefulSet", obj)
	}
	g := b.in.Group
	sts.Labels = mergeMap(sts.Labels, metadata.BrokerLabels(g))
	if sts.CreationTimestamp.IsZero() {
		// Immutable after creation (the CRD makes storage immutable to match).
		sts.Spec.Selector = &metav1.LabelSelector{MatchLabels: metadata.BrokerSelectorLabels(g)}
		sts.Spec.ServiceName = metadata.BrokerHeadlessServiceName(g)
		sts.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{BrokerVolumeClaimTemplate(g)}
	}
	sts.Spec.Replicas = ptrTo(b.in.Replicas)
	sts.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	sts.Spec.RevisionHistoryLimit = ptrTo(int32(10))
	policy := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if g.Spec.Storage.ReclaimPolicy == v1alpha1.ReclaimDelete {
		policy = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	}
	sts.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: policy,
		WhenScaled:  policy,
	}
	sts.Spec.Template = BrokerPodTemplate(b.in)
	return nil
}

// BrokerVolumeClaimTemplate is the per-pod store volume: each broker gets its own claim, so
// store paths are distinct by construction.
func BrokerVolumeClaimTemplate(g *v1alpha1.BrokerGroup) corev1.PersistentVolumeClaim {
	size := resource.MustParse(DefaultStorageSize)
	if g.Spec.Storage.Size != nil {
		size = g.Spec.Storage.Size.DeepCopy()
	}
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: metadata.StoreVolumeName, Labels: metadata.BrokerSelectorLabels(g)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: g.Spec.Storage.StorageClassName,
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: size},
			},
		},
	}
}

// BrokerPodTemplate is the pod template of a BrokerGroup, with its hash annotation.
func BrokerPodTemplate(in BrokerGroupInput) corev1.PodTemplateSpec {
	g := in.Group
	image := g.Spec.Image
	if image == "" {
		image = in.Defaults.BrokerImage
	}
	headless := metadata.BrokerHeadlessServiceName(g)
	podHost := "$(POD_NAME)." + headless + "." + metadata.ServiceDomain(g.Namespace, in.Defaults.ClusterDomain)
	env := append(podEnv(),
		corev1.EnvVar{Name: EnvPodOrdinalAsBrokerID, Value: "true"},
		corev1.EnvVar{Name: envName("brokerIP1"), Value: podHost},
		corev1.EnvVar{Name: envName("brokerIP2"), Value: podHost},
	)
	c := corev1.Container{
		Name:            "broker",
		Image:           image,
		ImagePullPolicy: pullPolicy(g.Spec.ImagePullPolicy),
		Args:            []string{"-c", metadata.BrokerConfigPath},
		Env:             env,
		Ports: []corev1.ContainerPort{
			{Name: metadata.BrokerPortName, ContainerPort: metadata.BrokerPort, Protocol: corev1.ProtocolTCP},
			{Name: metadata.BrokerHAName, ContainerPort: metadata.BrokerHAPort, Protocol: corev1.ProtocolTCP},
		},
		Resources: *g.Spec.Resources.DeepCopy(),
		// Recovery of a large commit log can take minutes before the broker listens:
		// allow up to 10 minutes before liveness applies.
		StartupProbe:             tcpProbe(metadata.BrokerPortName, 0, 5, 120),
		ReadinessProbe:           tcpProbe(metadata.BrokerPortName, 0, 5, 3),
		LivenessProbe:            tcpProbe(metadata.BrokerPortName, 0, 10, 6),
		Lifecycle:                preStop(),
		TerminationMessagePath:   corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		VolumeMounts: []corev1.VolumeMount{
			{Name: metadata.StoreVolumeName, MountPath: metadata.DataDir},
			{Name: metadata.ConfigVolumeName, MountPath: metadata.ConfigDir, ReadOnly: true},
			{Name: metadata.TmpVolumeName, MountPath: "/tmp"},
		},
	}
	annotations := mergeMap(g.Spec.Pod.Annotations, map[string]string{metadata.AnnotationConfigHash: in.PropertiesHash})
	t := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      mergeMap(g.Spec.Pod.Labels, metadata.BrokerLabels(g)),
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{c},
			Volumes: []corev1.Volume{
				{Name: metadata.ConfigVolumeName, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: metadata.BrokerConfigMapName(g)},
					Items:                []corev1.KeyToPath{{Key: metadata.BrokerConfigKey, Path: metadata.BrokerConfigKey}},
					DefaultMode:          ptrTo(corev1.ConfigMapVolumeSourceDefaultMode),
				}}},
				{Name: metadata.TmpVolumeName, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
	applyPodOverrides(&t.Spec, g.Spec.Pod, metadata.BrokerSelectorLabels(g), brokerGraceSeconds)
	t.Annotations[metadata.AnnotationPodTemplateHash] = hashOf(t)
	return t
}

type brokerPDB struct{ g *v1alpha1.BrokerGroup }

func (b *brokerPDB) Build() client.Object {
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: metadata.BrokerPDBName(b.g), Namespace: b.g.Namespace}}
}

// Update: voluntary disruptions (node drains) take one broker of the group at a time. Pods that
// are not healthy may always be evicted, so a broken broker never blocks a drain.
func (b *brokerPDB) Update(obj client.Object) error {
	pdb, ok := obj.(*policyv1.PodDisruptionBudget)
	if !ok {
		return wrongType("PodDisruptionBudget", obj)
	}
	pdb.Labels = mergeMap(pdb.Labels, metadata.BrokerLabels(b.g))
	pdb.Spec.MinAvailable = nil
	pdb.Spec.MaxUnavailable = ptrTo(intstr.FromInt32(1))
	pdb.Spec.Selector = &metav1.LabelSelector{MatchLabels: metadata.BrokerSelectorLabels(b.g)}
	pdb.Spec.UnhealthyPodEvictionPolicy = ptrTo(policyv1.AlwaysAllow)
	return nil
}

// BrokerID is the brokerId of the pod with the given ordinal (0 is the master).
func BrokerID(ordinal int) int64 { return int64(ordinal) }

// BrokerAddress is the address (host:port) a broker pod advertises as brokerIP1:listenPort.
func BrokerAddress(g *v1alpha1.BrokerGroup, ordinal int, clusterDomain string) string {
	host := metadata.PodDNSName(metadata.PodName(metadata.BrokerStatefulSetName(g), ordinal),
		metadata.BrokerHeadlessServiceName(g), g.Namespace, clusterDomain)
	return host + ":" + strconv.Itoa(int(metadata.BrokerPort))
}
