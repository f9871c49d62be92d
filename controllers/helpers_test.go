package controllers_test

import (
	"context"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
)

// newNamespace creates a namespace for one test (envtest never deletes namespaces: it has no
// namespace controller; unique names keep tests apart).
func newNamespace(ctx context.Context, prefix string) string {
	name := prefix + "-" + rand.String(6)
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}

func ptr[T any](v T) *T { return &v }

// newBrokerGroup returns a BrokerGroup with explicit nameserver addresses.
func newBrokerGroup(ns, name string, replicas int32) *v1alpha1.BrokerGroup {
	return &v1alpha1.BrokerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.BrokerGroupSpec{
			ClusterName:         "TestCluster",
			Replicas:            replicas,
			NameServerAddresses: []string{"ns-0.ns-headless." + ns + ".svc:9876"},
		},
	}
}

func getSTS(ctx context.Context, ns, name string) *appsv1.StatefulSet {
	sts := &appsv1.StatefulSet{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sts)).To(Succeed())
	return sts
}

// eventuallySTS waits for the StatefulSet to exist.
func eventuallySTS(ctx context.Context, ns, name string) *appsv1.StatefulSet {
	sts := &appsv1.StatefulSet{}
	Eventually(func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sts)
	}).Should(Succeed())
	return sts
}

func templateHash(sts *appsv1.StatefulSet) string {
	return sts.Spec.Template.Annotations[metadata.AnnotationPodTemplateHash]
}

// syncStatefulSet plays one pass of the StatefulSet controller: it records the current
// generation as observed, creates the missing pods (ordinals below spec.replicas) from the
// current template, not Ready, and deletes pods beyond spec.replicas. Pods it creates carry the
// labels the real controller sets (pod-name, pod-index, controller-revision-hash).
func syncStatefulSet(ctx context.Context, ns, name string) *appsv1.StatefulSet {
	GinkgoHelper()
	sts := getSTS(ctx, ns, name)
	var pods corev1.PodList
	Expect(k8sClient.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(sts.Spec.Selector.MatchLabels))).To(Succeed())
	existing := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		existing[p.Name] = true
		if n, ok := metadata.PodOrdinal(name, p.Name); ok && n >= int(*sts.Spec.Replicas) {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, p))).To(Succeed())
		}
	}
	for i := 0; i < int(*sts.Spec.Replicas); i++ {
		podName := metadata.PodName(name, i)
		if existing[podName] {
			continue
		}
		createPodFromTemplate(ctx, sts, i)
	}
	updateSTSStatus(ctx, ns, name)
	return getSTS(ctx, ns, name)
}

func createPodFromTemplate(ctx context.Context, sts *appsv1.StatefulSet, ordinal int) {
	GinkgoHelper()
	t := sts.Spec.Template.DeepCopy()
	podName := metadata.PodName(sts.Name, ordinal)
	labels := map[string]string{}
	for k, v := range t.Labels {
		labels[k] = v
	}
	labels["statefulset.kubernetes.io/pod-name"] = podName
	labels["apps.kubernetes.io/pod-index"] = strconv.Itoa(ordinal)
	labels["controller-revision-hash"] = sts.Name + "-" + templateHash(sts)[:10]
	spec := t.Spec
	spec.Hostname = podName
	spec.Subdomain = sts.Spec.ServiceName
	for _, vct := range sts.Spec.VolumeClaimTemplates {
		claim := vct.Name + "-" + podName
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: vct.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
		}})
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: sts.Namespace, Labels: vct.Labels},
			Spec:       vct.Spec,
		}
		err := k8sClient.Create(ctx, pvc)
		if !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred())
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: podName, Namespace: sts.Namespace, Labels: labels, Annotations: t.Annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "StatefulSet", Name: sts.Name, UID: sts.UID, Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: spec,
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
}

// updateSTSStatus sets the StatefulSet status from its pods, as the StatefulSet controller does.
func updateSTSStatus(ctx context.Context, ns, name string) {
	GinkgoHelper()
	Eventually(func() error {
		sts := getSTS(ctx, ns, name)
		var pods corev1.PodList
		if err := k8sClient.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(sts.Spec.Selector.MatchLabels)); err != nil {
			return err
		}
		hash := templateHash(sts)
		var ready, updated int32
		for i := range pods.Items {
			if podIsReady(&pods.Items[i]) {
				ready++
			}
			if pods.Items[i].Annotations[metadata.AnnotationPodTemplateHash] == hash {
				updated++
			}
		}
		sts.Status.ObservedGeneration = sts.Generation
		sts.Status.Replicas = int32(len(pods.Items))
		sts.Status.ReadyReplicas = ready
		sts.Status.AvailableReplicas = ready
		sts.Status.UpdatedReplicas = updated
		sts.Status.UpdateRevision = name + "-" + hash
		if updated == int32(len(pods.Items)) {
			sts.Status.CurrentRevision = sts.Status.UpdateRevision
			sts.Status.CurrentReplicas = updated
		}
		return k8sClient.Status().Update(ctx, sts)
	}).Should(Succeed())
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// setPodReady sets a pod's Ready condition (what the kubelet does after the readiness probe).
func setPodReady(ctx context.Context, ns, name string, ready bool) {
	GinkgoHelper()
	Eventually(func() error {
		p := &corev1.Pod{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			return err
		}
		s := corev1.ConditionFalse
		if ready {
			s = corev1.ConditionTrue
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: s, LastTransitionTime: metav1.Now()}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: p.Spec.Containers[0].Name, Ready: ready, Image: p.Spec.Containers[0].Image, ImageID: "x"}}
		return k8sClient.Status().Update(ctx, p)
	}).Should(Succeed())
	stsName := p2sts(name)
	updateSTSStatus(ctx, ns, stsName)
}

func p2sts(pod string) string { return pod[:strings.LastIndex(pod, "-")] }

// startGroupPods creates the StatefulSet's pods and makes them all Ready.
func startGroupPods(ctx context.Context, ns, name string) {
	GinkgoHelper()
	sts := syncStatefulSet(ctx, ns, name)
	for i := 0; i < int(*sts.Spec.Replicas); i++ {
		setPodReady(ctx, ns, metadata.PodName(name, i), true)
	}
}

func getPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	p := &corev1.Pod{}
	err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)
	return p, err
}

// podUIDs maps pod name to UID for the group's pods.
func podUIDs(ctx context.Context, ns, stsName string, n int) map[string]string {
	out := map[string]string{}
	for i := 0; i < n; i++ {
		p, err := getPod(ctx, ns, metadata.PodName(stsName, i))
		if err == nil {
			out[p.Name] = string(p.UID)
		}
	}
	return out
}

func getBrokerGroup(ctx context.Context, ns, name string) *v1alpha1.BrokerGroup {
	g := &v1alpha1.BrokerGroup{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, g)).To(Succeed())
	return g
}

// condition returns "Status/Reason" of a condition, or "" if absent.
func condition(conds []metav1.Condition, t string) string {
	c := meta.FindStatusCondition(conds, t)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

func conditionMessage(conds []metav1.Condition, t string) string {
	c := meta.FindStatusCondition(conds, t)
	if c == nil {
		return ""
	}
	return c.Message
}

// groupCondition polls a BrokerGroup condition as "Status/Reason".
func groupCondition(ctx context.Context, ns, name, t string) func() string {
	return func() string {
		g := &v1alpha1.BrokerGroup{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, g); err != nil {
			return "error: " + err.Error()
		}
		return condition(g.Status.Conditions, t)
	}
}

// updateGroup applies f to the latest BrokerGroup and updates it, retrying on conflicts.
func updateGroup(ctx context.Context, ns, name string, f func(*v1alpha1.BrokerGroup)) {
	GinkgoHelper()
	Eventually(func() error {
		g := getBrokerGroup(ctx, ns, name)
		f(g)
		return k8sClient.Update(ctx, g)
	}).Should(Succeed())
}

// eventReasons lists the reasons of the Events recorded for an object.
func eventReasons(ctx context.Context, ns, objName string) []string {
	evs, err := clientset.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + objName})
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, e := range evs.Items {
		out = append(out, e.Reason)
	}
	return out
}

func eventMessages(ctx context.Context, ns, objName, reason string) []string {
	evs, err := clientset.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + objName})
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, e := range evs.Items {
		if e.Reason == reason {
			out = append(out, e.Message)
		}
	}
	return out
}
