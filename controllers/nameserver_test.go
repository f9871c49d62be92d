package controllers_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/api/v1alpha1"
	opresource "github.com/gorocket/gorocket/internal/operator/resource"
)

var _ = Describe("NameServer", func() {
	var ctx context.Context
	var ns string

	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx, "nsrv")
	})

	nsCondition := func(name, t string) func() string {
		return func() string {
			o := &v1alpha1.NameServer{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o); err != nil {
				return err.Error()
			}
			return condition(o.Status.Conditions, t)
		}
	}

	It("creates a headless Service, a client Service and a StatefulSet, and reports stable addresses", func() {
		o := &v1alpha1.NameServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ns"},
			Spec: v1alpha1.NameServerSpec{
				Pod: v1alpha1.PodOverrides{NodeSelector: map[string]string{"pool": "mq"}},
			},
		}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
		Expect(*o.Spec.Replicas).To(Equal(int32(2)), "default replicas")
		Expect(o.Spec.ListenPort).To(Equal(int32(9876)), "default port")

		headless := &corev1.Service{}
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ns-headless"}, headless)
		}).Should(Succeed())
		Expect(headless.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
		Expect(headless.Spec.PublishNotReadyAddresses).To(BeTrue())
		svc := &corev1.Service{}
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ns"}, svc) }).Should(Succeed())
		Expect(svc.Spec.ClusterIP).NotTo(Equal(corev1.ClusterIPNone))
		Expect(svc.Spec.Ports[0].Port).To(Equal(int32(9876)))

		sts := eventuallySTS(ctx, ns, "ns")
		Expect(*sts.Spec.Replicas).To(Equal(int32(2)))
		Expect(sts.Spec.ServiceName).To(Equal("ns-headless"))
		Expect(sts.Spec.UpdateStrategy.Type).To(Equal(appsv1.RollingUpdateStatefulSetStrategyType))
		c := sts.Spec.Template.Spec.Containers[0]
		Expect(c.Image).To(Equal(testNameServerImage))
		Expect(c.Args).To(Equal([]string{"--listen", "0.0.0.0:9876"}))
		Expect(c.ReadinessProbe.TCPSocket).NotTo(BeNil())
		Expect(c.LivenessProbe.TCPSocket).NotTo(BeNil())
		Expect(sts.Spec.Template.Spec.NodeSelector).To(HaveKeyWithValue("pool", "mq"))
		Expect(metav1.GetControllerOf(sts).Kind).To(Equal("NameServer"))

		By("re-applying the builders to the stored objects changes nothing")
		for _, b := range opresource.NameServerBuilders(o, opresource.Defaults{NameServerImage: testNameServerImage}) {
			stored := b.Build()
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(stored), stored)).To(Succeed())
			again := stored.DeepCopyObject().(client.Object)
			Expect(b.Update(again)).To(Succeed())
			Expect(equality.Semantic.DeepEqual(stored, again)).To(BeTrue(), "%T %s changes when re-applied", stored, stored.GetName())
		}

		Eventually(func() []string {
			cur := &v1alpha1.NameServer{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), cur)).To(Succeed())
			return cur.Status.Addresses
		}).Should(Equal([]string{"ns-0.ns-headless." + ns + ".svc:9876", "ns-1.ns-headless." + ns + ".svc:9876"}))
		Expect(nsCondition("ns", v1alpha1.ConditionAvailable)()).To(Equal("False/NoNameServerReady"))

		By("pods becoming Ready")
		startGroupPods(ctx, ns, "ns")
		Eventually(nsCondition("ns", v1alpha1.ConditionAvailable)).Should(Equal("True/NameServerReady"))
		Eventually(nsCondition("ns", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))
		Eventually(nsCondition("ns", v1alpha1.ConditionProgressing)).Should(Equal("False/UpToDate"))
		cur := &v1alpha1.NameServer{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), cur)).To(Succeed())
		Expect(cur.Status.ReadyReplicas).To(Equal(int32(2)))
		Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation))
	})

	It("scales freely in both directions, even when pods are not Ready", func() {
		o := &v1alpha1.NameServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "free"}, Spec: v1alpha1.NameServerSpec{Replicas: ptr(int32(3))}}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		eventuallySTS(ctx, ns, "free")
		syncStatefulSet(ctx, ns, "free") // pods exist, none Ready
		setScale := func(n int32) {
			Eventually(func() error {
				cur := &v1alpha1.NameServer{}
				if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
					return err
				}
				cur.Spec.Replicas = ptr(n)
				return k8sClient.Update(ctx, cur)
			}).Should(Succeed())
		}
		setScale(1)
		Eventually(func() int32 { return *getSTS(ctx, ns, "free").Spec.Replicas }).Should(Equal(int32(1)))
		setScale(5)
		Eventually(func() int32 { return *getSTS(ctx, ns, "free").Spec.Replicas }).Should(Equal(int32(5)))
		Eventually(func() int {
			cur := &v1alpha1.NameServer{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), cur)).To(Succeed())
			return len(cur.Status.Addresses)
		}).Should(Equal(5))
		Eventually(func() []string { return eventReasons(ctx, ns, "free") }).Should(ContainElement("Scaled"))
	})

	It("changes nothing while paused", func() {
		o := &v1alpha1.NameServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "still"}}
		Expect(k8sClient.Create(ctx, o)).To(Succeed())
		eventuallySTS(ctx, ns, "still")
		Eventually(func() error {
			cur := &v1alpha1.NameServer{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
				return err
			}
			cur.Annotations = map[string]string{v1alpha1.PauseReconcileAnnotation: "true"}
			cur.Spec.Replicas = ptr(int32(4))
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(nsCondition("still", v1alpha1.ConditionWarning)).Should(Equal("True/Paused"))
		Consistently(func() int32 { return *getSTS(ctx, ns, "still").Spec.Replicas }).Should(Equal(int32(2)))
	})
})
