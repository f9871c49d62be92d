package controllers_test

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/internal/operator/metadata"
	opresource "github.com/gorocket/gorocket/internal/operator/resource"
)

var _ = Describe("BrokerGroup", func() {
	var ctx context.Context
	var ns string

	BeforeEach(func() {
		ctx = context.Background()
		ns = newNamespace(ctx, "bg")
	})

	It("creates the ConfigMap, headless Service, StatefulSet and PDB with the expected specs", func() {
		g := newBrokerGroup(ns, "broker-a", 2)
		g.Spec.ReplicationMode = v1alpha1.ReplicationSync
		g.Spec.FlushDiskType = v1alpha1.FlushSync
		g.Spec.Config = map[string]string{"fileReservedTime": "120", "deleteWhen": "04"}
		g.Spec.Storage.StorageClassName = ptr("fast")
		g.Spec.Storage.Size = ptr(resource.MustParse("20Gi"))
		g.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}
		g.Spec.Pod.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "mq", Effect: corev1.TaintEffectNoSchedule}}
		g.Spec.Pod.PriorityClassName = "mq-critical"
		g.Spec.Pod.Annotations = map[string]string{"example.com/team": "mq"}
		Expect(k8sClient.Create(ctx, g)).To(Succeed())

		By("defaulting the spec")
		got := getBrokerGroup(ctx, ns, "broker-a")
		Expect(got.Spec.Storage.ReclaimPolicy).To(Equal(v1alpha1.ReclaimRetain))
		Expect(got.Spec.ImagePullPolicy).To(Equal(corev1.PullIfNotPresent))
		Expect(got.Spec.BrokerName).To(BeEmpty(), "brokerName defaults to the object's name at reconcile time")

		By("rendering broker.properties with the config package")
		cm := &corev1.ConfigMap{}
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "broker-a-config"}, cm)
		}).Should(Succeed())
		props := cm.Data[metadata.BrokerConfigKey]
		parsed, warns, err := conf.ParseBroker(strings.NewReader(props), "broker.properties")
		Expect(err).NotTo(HaveOccurred())
		Expect(warns).To(BeEmpty())
		Expect(parsed.BrokerClusterName).To(Equal("TestCluster"))
		Expect(parsed.BrokerName).To(Equal("broker-a"))
		Expect(parsed.BrokerID).To(BeZero())
		Expect(parsed.BrokerRole).To(Equal(conf.RoleSyncMaster))
		Expect(parsed.FlushDiskType).To(Equal(conf.FlushSync))
		Expect(parsed.NamesrvAddr).To(Equal([]string{"ns-0.ns-headless." + ns + ".svc:9876"}))
		Expect(parsed.ListenPort).To(Equal(10911))
		Expect(parsed.HAListenPort).To(Equal(10912))
		Expect(parsed.FileReservedTime).To(Equal(120))
		Expect(parsed.StorePathRootDir).To(Equal("/var/lib/gorocket/store"))
		Expect(parsed.StorePathCommitLog).To(Equal("/var/lib/gorocket/store/commitlog"))
		Expect(parsed.Validate()).To(Succeed())

		By("a headless Service publishing not-ready pods")
		svc := &corev1.Service{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "broker-a-headless"}, svc)).To(Succeed())
		Expect(svc.Spec.ClusterIP).To(Equal(corev1.ClusterIPNone))
		Expect(svc.Spec.PublishNotReadyAddresses).To(BeTrue())
		Expect(svc.Spec.Ports).To(ConsistOf(
			HaveField("Port", int32(10911)), HaveField("Port", int32(10912))))

		By("a StatefulSet: OnDelete, one claim per pod, brokerId from the ordinal, DNS name as brokerIP1")
		sts := eventuallySTS(ctx, ns, "broker-a")
		Expect(*sts.Spec.Replicas).To(Equal(int32(2)))
		Expect(sts.Spec.ServiceName).To(Equal("broker-a-headless"))
		Expect(sts.Spec.UpdateStrategy.Type).To(Equal(appsv1.OnDeleteStatefulSetStrategyType))
		Expect(sts.Spec.PodManagementPolicy).To(Equal(appsv1.ParallelPodManagement))
		Expect(sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType))
		Expect(sts.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType))
		Expect(sts.Spec.VolumeClaimTemplates).To(HaveLen(1))
		vct := sts.Spec.VolumeClaimTemplates[0]
		Expect(vct.Name).To(Equal("store"))
		Expect(*vct.Spec.StorageClassName).To(Equal("fast"))
		Expect(vct.Spec.Resources.Requests.Storage().String()).To(Equal("20Gi"))

		pod := sts.Spec.Template
		Expect(pod.Annotations).To(HaveKeyWithValue("example.com/team", "mq"))
		Expect(pod.Annotations).To(HaveKey(metadata.AnnotationConfigHash))
		Expect(pod.Annotations).To(HaveKey(metadata.AnnotationPodTemplateHash))
		Expect(pod.Spec.PriorityClassName).To(Equal("mq-critical"))
		Expect(pod.Spec.Tolerations).To(HaveLen(1))
		Expect(pod.Spec.TopologySpreadConstraints).To(HaveLen(1), "default spread across nodes")
		Expect(pod.Spec.TopologySpreadConstraints[0].TopologyKey).To(Equal(corev1.LabelHostname))
		Expect(*pod.Spec.SecurityContext.RunAsNonRoot).To(BeTrue())
		c := pod.Spec.Containers[0]
		Expect(c.Image).To(Equal(testBrokerImage))
		Expect(c.Args).To(Equal([]string{"-c", "/etc/gorocket/broker.properties"}))
		Expect(c.Resources.Requests.Memory().String()).To(Equal("512Mi"))
		Expect(c.Ports).To(ConsistOf(
			And(HaveField("Name", "main"), HaveField("ContainerPort", int32(10911))),
			And(HaveField("Name", "ha"), HaveField("ContainerPort", int32(10912)))))
		Expect(c.ReadinessProbe.TCPSocket.Port).To(Equal(intstr.FromString("main")))
		Expect(c.LivenessProbe.TCPSocket.Port).To(Equal(intstr.FromString("main")))
		Expect(c.StartupProbe).NotTo(BeNil())
		Expect(c.Lifecycle.PreStop.Sleep).NotTo(BeNil())
		Expect(*c.SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
		env := map[string]corev1.EnvVar{}
		for _, e := range c.Env {
			env[e.Name] = e
		}
		Expect(env["POD_NAME"].ValueFrom.FieldRef.FieldPath).To(Equal("metadata.name"))
		Expect(env["GOROCKET_POD_ORDINAL_AS_BROKER_ID"].Value).To(Equal("true"))
		Expect(env["GOROCKET_BROKER_IP1"].Value).To(Equal("$(POD_NAME).broker-a-headless." + ns + ".svc"))
		Expect(env["GOROCKET_BROKER_IP2"].Value).To(Equal("$(POD_NAME).broker-a-headless." + ns + ".svc"))
		Expect(c.VolumeMounts).To(ContainElements(
			And(HaveField("Name", "store"), HaveField("MountPath", "/var/lib/gorocket")),
			And(HaveField("Name", "config"), HaveField("MountPath", "/etc/gorocket"))))

		By("a PodDisruptionBudget allowing one broker down at a time")
		pdb := &policyv1.PodDisruptionBudget{}
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "broker-a"}, pdb)
		}).Should(Succeed())
		Expect(pdb.Spec.MaxUnavailable.IntValue()).To(Equal(1))
		Expect(pdb.Spec.Selector.MatchLabels).To(Equal(sts.Spec.Selector.MatchLabels))

		By("owner references on every child, so deleting the group deletes them")
		for _, obj := range []client.Object{cm, svc, sts, pdb} {
			ref := metav1.GetControllerOf(obj)
			Expect(ref).NotTo(BeNil(), "%T %s", obj, obj.GetName())
			Expect(ref.Kind).To(Equal("BrokerGroup"))
			Expect(ref.UID).To(Equal(got.UID))
			Expect(*ref.BlockOwnerDeletion).To(BeTrue())
		}

		By("builders being a fixpoint of what the API server stored (no update churn)")
		props2, hash, err := opresource.RenderBrokerProperties(opresource.BrokerConfigInput{Group: got, NameServerAddrs: got.Spec.NameServerAddresses})
		Expect(err).NotTo(HaveOccurred())
		for _, b := range opresource.BrokerGroupBuilders(opresource.BrokerGroupInput{
			Group: got, Defaults: opresource.Defaults{BrokerImage: testBrokerImage}, Properties: props2, PropertiesHash: hash, Replicas: 2,
		}) {
			stored := b.Build()
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(stored), stored)).To(Succeed())
			again := stored.DeepCopyObject().(client.Object)
			Expect(b.Update(again)).To(Succeed())
			Expect(equality.Semantic.DeepEqual(stored, again)).To(BeTrue(), "%T %s changes when re-applied", stored, stored.GetName())
		}
	})

	It("reports status from the observed pods: members, readiness, availability", func() {
		Expect(k8sClient.Create(ctx, newBrokerGroup(ns, "status", 3))).To(Succeed())
		eventuallySTS(ctx, ns, "status")
		Eventually(groupCondition(ctx, ns, "status", v1alpha1.ConditionAvailable)).Should(Equal("False/MasterNotReady"))
		Expect(groupCondition(ctx, ns, "status", v1alpha1.ConditionReconcileSuccess)()).To(Equal("True/Success"))

		syncStatefulSet(ctx, ns, "status")
		setPodReady(ctx, ns, "status-0", true)
		Eventually(groupCondition(ctx, ns, "status", v1alpha1.ConditionAvailable)).Should(Equal("True/MasterReady"))
		Expect(groupCondition(ctx, ns, "status", v1alpha1.ConditionAllReplicasReady)()).To(Equal("False/PodsNotReady"))
		Expect(groupCondition(ctx, ns, "status", v1alpha1.ConditionProgressing)()).To(Equal("True/WaitingForPods"))

		setPodReady(ctx, ns, "status-1", true)
		setPodReady(ctx, ns, "status-2", true)
		Eventually(groupCondition(ctx, ns, "status", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))
		Eventually(groupCondition(ctx, ns, "status", v1alpha1.ConditionProgressing)).Should(Equal("False/UpToDate"))
		Expect(groupCondition(ctx, ns, "status", v1alpha1.ConditionWarning)()).To(Equal("False/NoWarnings"))
		Expect(groupCondition(ctx, ns, "status", v1alpha1.ConditionBrokersRegistered)()).To(Equal("True/BrokersRegistered"))

		g := getBrokerGroup(ctx, ns, "status")
		Expect(g.Status.ObservedGeneration).To(Equal(g.Generation))
		Expect(g.Status.ReadyReplicas).To(Equal(int32(3)))
		Expect(g.Status.BrokerName).To(Equal("status"))
		Expect(g.Status.Selector).To(ContainSubstring("app.kubernetes.io/instance=status"))
		Expect(g.Status.Members).To(HaveLen(3))
		Expect(g.Status.Members[0]).To(And(HaveField("Pod", "status-0"), HaveField("BrokerID", int64(0)), HaveField("Role", "ASYNC_MASTER"), HaveField("Ready", true)))
		Expect(g.Status.Members[2]).To(And(HaveField("Pod", "status-2"), HaveField("BrokerID", int64(2)), HaveField("Role", "SLAVE"), HaveField("Ready", true)))

		By("losing the master makes the group unavailable")
		setPodReady(ctx, ns, "status-0", false)
		Eventually(groupCondition(ctx, ns, "status", v1alpha1.ConditionAvailable)).Should(Equal("False/MasterNotReady"))
		Expect(eventReasons(ctx, ns, "status")).To(ContainElement("Created"))
	})

	It("scales up by adding slaves and down by removing the highest ordinals, keeping claims", func() {
		Expect(k8sClient.Create(ctx, newBrokerGroup(ns, "scale", 2))).To(Succeed())
		eventuallySTS(ctx, ns, "scale")
		startGroupPods(ctx, ns, "scale")
		Eventually(groupCondition(ctx, ns, "scale", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))

		By("scaling up to 4")
		updateGroup(ctx, ns, "scale", func(g *v1alpha1.BrokerGroup) { g.Spec.Replicas = 4 })
		Eventually(func() int32 { return *getSTS(ctx, ns, "scale").Spec.Replicas }).Should(Equal(int32(4)))
		Eventually(groupCondition(ctx, ns, "scale", v1alpha1.ConditionProgressing)).Should(Equal("True/Scaling"))
		startGroupPods(ctx, ns, "scale")
		Eventually(groupCondition(ctx, ns, "scale", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))
		Expect(getBrokerGroup(ctx, ns, "scale").Status.Members[3].Role).To(Equal("SLAVE"))

		By("scaling down to 2 through the scale subresource")
		g := getBrokerGroup(ctx, ns, "scale")
		scale := &autoscalingv1.Scale{}
		Expect(k8sClient.SubResource("scale").Get(ctx, g, scale)).To(Succeed())
		Expect(scale.Spec.Replicas).To(Equal(int32(4)))
		Expect(scale.Status.Selector).To(ContainSubstring("app.kubernetes.io/instance=scale"))
		scale.Spec.Replicas = 2
		Expect(k8sClient.SubResource("scale").Update(ctx, g, client.WithSubResourceBody(scale))).To(Succeed())
		Eventually(func() int32 { return *getSTS(ctx, ns, "scale").Spec.Replicas }).Should(Equal(int32(2)))
		syncStatefulSet(ctx, ns, "scale")
		Eventually(groupCondition(ctx, ns, "scale", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))
		_, err := getPod(ctx, ns, "scale-3")
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "highest ordinal removed")
		_, err = getPod(ctx, ns, "scale-0")
		Expect(err).NotTo(HaveOccurred(), "master kept")
		By("the removed slaves' claims are retained (reclaimPolicy Retain)")
		Expect(getSTS(ctx, ns, "scale").Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType))
		pvc := &corev1.PersistentVolumeClaim{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "store-scale-3"}, pvc)).To(Succeed())
		Expect(eventMessages(ctx, ns, "scale", "Scaled")).To(ContainElements("scaled brokers from 2 to 4", "scaled brokers from 4 to 2"))
	})

	It("refuses a scale-down while a remaining broker is not Ready, says why, and proceeds once it is", func() {
		Expect(k8sClient.Create(ctx, newBrokerGroup(ns, "refuse", 3))).To(Succeed())
		eventuallySTS(ctx, ns, "refuse")
		startGroupPods(ctx, ns, "refuse")
		Eventually(groupCondition(ctx, ns, "refuse", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))

		setPodReady(ctx, ns, "refuse-0", false) // the master is down
		Eventually(groupCondition(ctx, ns, "refuse", v1alpha1.ConditionAvailable)).Should(Equal("False/MasterNotReady"))
		updateGroup(ctx, ns, "refuse", func(g *v1alpha1.BrokerGroup) { g.Spec.Replicas = 1 })

		Eventually(groupCondition(ctx, ns, "refuse", v1alpha1.ConditionWarning)).Should(Equal("True/ScaleDownRefused"))
		g := getBrokerGroup(ctx, ns, "refuse")
		Expect(conditionMessage(g.Status.Conditions, v1alpha1.ConditionWarning)).To(
			And(ContainSubstring("scale-down from 3 to 1 refused"), ContainSubstring("refuse-0 (not Ready)")))
		Expect(g.Status.Replicas).To(Equal(int32(3)), "status.replicas shows what runs, not the spec")
		Consistently(func() int32 { return *getSTS(ctx, ns, "refuse").Spec.Replicas }).Should(Equal(int32(3)))
		Eventually(func() []string { return eventReasons(ctx, ns, "refuse") }).Should(ContainElement("ScaleDownRefused"))

		By("the master coming back lets the scale-down proceed")
		setPodReady(ctx, ns, "refuse-0", true)
		Eventually(func() int32 { return *getSTS(ctx, ns, "refuse").Spec.Replicas }).Should(Equal(int32(1)))
		Eventually(groupCondition(ctx, ns, "refuse", v1alpha1.ConditionWarning)).Should(Equal("False/NoWarnings"))
		syncStatefulSet(ctx, ns, "refuse")
		Eventually(groupCondition(ctx, ns, "refuse", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))
	})

	It("allows removing an unhealthy slave when the brokers that remain are Ready", func() {
		Expect(k8sClient.Create(ctx, newBrokerGroup(ns, "drop", 3))).To(Succeed())
		eventuallySTS(ctx, ns, "drop")
		startGroupPods(ctx, ns, "drop")
		setPodReady(ctx, ns, "drop-2", false)
		updateGroup(ctx, ns, "drop", func(g *v1alpha1.BrokerGroup) { g.Spec.Replicas = 2 })
		Eventually(func() int32 { return *getSTS(ctx, ns, "drop").Spec.Replicas }).Should(Equal(int32(2)))
		Expect(groupCondition(ctx, ns, "drop", v1alpha1.ConditionWarning)()).NotTo(Equal("True/ScaleDownRefused"))
	})

	It("rolls a configuration change slaves first, master last, each after the previous pod is Ready", func() {
		Expect(k8sClient.Create(ctx, newBrokerGroup(ns, "roll", 3))).To(Succeed())
		eventuallySTS(ctx, ns, "roll")
		startGroupPods(ctx, ns, "roll")
		Eventually(groupCondition(ctx, ns, "roll", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))
		oldHash := templateHash(getSTS(ctx, ns, "roll"))
		uids := podUIDs(ctx, ns, "roll", 3)

		updateGroup(ctx, ns, "roll", func(g *v1alpha1.BrokerGroup) {
			g.Spec.Config = map[string]string{"fileReservedTime": "96"}
		})
		Eventually(func() string { return templateHash(getSTS(ctx, ns, "roll")) }).ShouldNot(Equal(oldHash))
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "roll-config"}, cm)).To(Succeed())
		Expect(cm.Data[metadata.BrokerConfigKey]).To(ContainSubstring("fileReservedTime=96"))

		By("nothing is restarted before the StatefulSet controller observed the new template")
		Consistently(func() map[string]string { return podUIDs(ctx, ns, "roll", 3) }).Should(Equal(uids))
		updateSTSStatus(ctx, ns, "roll")

		for _, ordinal := range []string{"2", "1", "0"} {
			victim := "roll-" + ordinal
			By("restarting " + victim)
			Eventually(func() bool {
				p, err := getPod(ctx, ns, victim)
				return apierrors.IsNotFound(err) || string(p.UID) != uids[victim]
			}).Should(BeTrue(), "%s is deleted", victim)
			// Only the victim went; every other pod is untouched.
			for name, uid := range uids {
				if name == victim {
					continue
				}
				p, err := getPod(ctx, ns, name)
				Expect(err).NotTo(HaveOccurred())
				Expect(string(p.UID)).To(Equal(uid), "%s must not restart while %s does", name, victim)
			}
			if ordinal == "0" {
				// No pod is outdated any more; the master is being recreated.
				Eventually(groupCondition(ctx, ns, "roll", v1alpha1.ConditionProgressing)).Should(Equal("True/WaitingForPods"))
			} else {
				Eventually(groupCondition(ctx, ns, "roll", v1alpha1.ConditionProgressing)).Should(Equal("True/RollingRestart"))
			}

			By("the StatefulSet controller recreating " + victim + " on the new template, not Ready yet")
			sts := syncStatefulSet(ctx, ns, "roll")
			p, err := getPod(ctx, ns, victim)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Annotations[metadata.AnnotationPodTemplateHash]).To(Equal(templateHash(sts)))
			Consistently(func() map[string]string {
				cur := podUIDs(ctx, ns, "roll", 3)
				delete(cur, victim)
				return cur
			}).Should(Equal(without(uids, victim)), "the roll waits while %s is not Ready", victim)

			setPodReady(ctx, ns, victim, true)
			uids[victim] = string(p.UID)
		}
		Eventually(groupCondition(ctx, ns, "roll", v1alpha1.ConditionProgressing)).Should(Equal("False/UpToDate"))
		Eventually(groupCondition(ctx, ns, "roll", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))
		g := getBrokerGroup(ctx, ns, "roll")
		Expect(g.Status.UpdatedReplicas).To(Equal(int32(3)))
		Expect(eventMessages(ctx, ns, "roll", "RestartingPod")).To(HaveLen(3))
	})

	It("waits for a restarted broker to re-register with the nameservers before the next restart", func() {
		g := newBrokerGroup(ns, "reg", 2)
		g.Spec.BrokerName = "reg-broker"
		Expect(k8sClient.Create(ctx, g)).To(Succeed())
		eventuallySTS(ctx, ns, "reg")
		startGroupPods(ctx, ns, "reg")
		Eventually(groupCondition(ctx, ns, "reg", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))
		admin.takeControl("reg-broker")
		admin.register("reg-broker", 0, true)
		admin.register("reg-broker", 1, true)
		uids := podUIDs(ctx, ns, "reg", 2)

		updateGroup(ctx, ns, "reg", func(g *v1alpha1.BrokerGroup) { g.Spec.Config = map[string]string{"maxMessageSize": "65536"} })
		Eventually(func() bool { return getSTS(ctx, ns, "reg").Generation > 1 }).Should(BeTrue())
		updateSTSStatus(ctx, ns, "reg")
		Eventually(func() error { _, err := getPod(ctx, ns, "reg-1"); return err }).Should(Satisfy(apierrors.IsNotFound))
		admin.register("reg-broker", 1, false) // the restarted slave has not registered yet
		syncStatefulSet(ctx, ns, "reg")
		setPodReady(ctx, ns, "reg-1", true)
		Eventually(groupCondition(ctx, ns, "reg", v1alpha1.ConditionBrokersRegistered)).Should(Equal("False/BrokersNotRegistered"))
		Consistently(func() string { return podUIDs(ctx, ns, "reg", 2)["reg-0"] }).Should(Equal(uids["reg-0"]), "master waits for the slave to register")

		admin.register("reg-broker", 1, true)
		Eventually(func() string { return podUIDs(ctx, ns, "reg", 2)["reg-0"] }).ShouldNot(Equal(uids["reg-0"]))
	})

	It("blocks a roll while the nameservers cannot be asked whether brokers re-registered", func() {
		g := newBrokerGroup(ns, "blind", 2)
		g.Spec.NameServerAddresses = []string{"unreachable-0.ns.svc:9876"}
		Expect(k8sClient.Create(ctx, g)).To(Succeed())
		eventuallySTS(ctx, ns, "blind")
		startGroupPods(ctx, ns, "blind")
		Eventually(groupCondition(ctx, ns, "blind", v1alpha1.ConditionBrokersRegistered)).Should(Equal("False/AdminUnavailable"))
		Expect(groupCondition(ctx, ns, "blind", v1alpha1.ConditionWarning)()).To(Equal("False/NoWarnings"), "no roll pending, nothing blocked")
		uids := podUIDs(ctx, ns, "blind", 2)

		updateGroup(ctx, ns, "blind", func(g *v1alpha1.BrokerGroup) { g.Spec.Config = map[string]string{"fileReservedTime": "24"} })
		Eventually(func() bool { return getSTS(ctx, ns, "blind").Generation > 1 }).Should(BeTrue())
		updateSTSStatus(ctx, ns, "blind")
		Eventually(groupCondition(ctx, ns, "blind", v1alpha1.ConditionWarning)).Should(Equal("True/RollBlocked"))
		Expect(conditionMessage(getBrokerGroup(ctx, ns, "blind").Status.Conditions, v1alpha1.ConditionWarning)).To(ContainSubstring("connection refused"))
		Consistently(func() map[string]string { return podUIDs(ctx, ns, "blind", 2) }).Should(Equal(uids))
		Eventually(func() []string { return eventReasons(ctx, ns, "blind") }).Should(ContainElement("RollBlocked"))

		By("reachable nameservers let the roll proceed")
		updateGroup(ctx, ns, "blind", func(g *v1alpha1.BrokerGroup) { g.Spec.NameServerAddresses = []string{"ns-0.ns.svc:9876"} })
		Eventually(func() bool { return getSTS(ctx, ns, "blind").Generation > 2 }).Should(BeTrue())
		updateSTSStatus(ctx, ns, "blind")
		Eventually(func() error { _, err := getPod(ctx, ns, "blind-1"); return err }).Should(Satisfy(apierrors.IsNotFound))
	})

	It("replaces an outdated pod that is not Ready at once, and reports a blocked roll", func() {
		Expect(k8sClient.Create(ctx, newBrokerGroup(ns, "stuck", 2))).To(Succeed())
		eventuallySTS(ctx, ns, "stuck")
		startGroupPods(ctx, ns, "stuck")
		Eventually(groupCondition(ctx, ns, "stuck", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))

		By("a change whose new pods crash")
		updateGroup(ctx, ns, "stuck", func(g *v1alpha1.BrokerGroup) { g.Spec.Image = "example.test/broken:1" })
		Eventually(func() bool { return getSTS(ctx, ns, "stuck").Generation > 1 }).Should(BeTrue())
		updateSTSStatus(ctx, ns, "stuck")
		Eventually(func() error { _, err := getPod(ctx, ns, "stuck-1"); return err }).Should(Satisfy(apierrors.IsNotFound))
		syncStatefulSet(ctx, ns, "stuck")
		crashLoop(ctx, ns, "stuck-1")
		Eventually(groupCondition(ctx, ns, "stuck", v1alpha1.ConditionWarning)).Should(Equal("True/RollBlocked"))
		Expect(conditionMessage(getBrokerGroup(ctx, ns, "stuck").Status.Conditions, v1alpha1.ConditionWarning)).To(ContainSubstring("stuck-1"))
		master, err := getPod(ctx, ns, "stuck-0")
		Expect(err).NotTo(HaveOccurred())

		By("a fixed spec replaces the crashing (outdated, not Ready) slave without waiting")
		crashed, _ := getPod(ctx, ns, "stuck-1")
		updateGroup(ctx, ns, "stuck", func(g *v1alpha1.BrokerGroup) { g.Spec.Image = "" })
		Eventually(func() bool { return getSTS(ctx, ns, "stuck").Generation > 2 }).Should(BeTrue())
		updateSTSStatus(ctx, ns, "stuck")
		Eventually(func() error { _, err := getPod(ctx, ns, "stuck-1"); return err }).Should(Satisfy(apierrors.IsNotFound))
		Expect(crashed.UID).NotTo(BeEmpty())
		p0, err := getPod(ctx, ns, "stuck-0")
		Expect(err).NotTo(HaveOccurred())
		Expect(p0.UID).To(Equal(master.UID), "the Ready master stays until the slave is back")
	})

	It("changes nothing while paused and says so; resumes when the annotation goes", func() {
		Expect(k8sClient.Create(ctx, newBrokerGroup(ns, "paused", 1))).To(Succeed())
		eventuallySTS(ctx, ns, "paused")
		startGroupPods(ctx, ns, "paused")
		Eventually(groupCondition(ctx, ns, "paused", v1alpha1.ConditionAllReplicasReady)).Should(Equal("True/AllPodsReady"))

		updateGroup(ctx, ns, "paused", func(g *v1alpha1.BrokerGroup) {
			g.Annotations = map[string]string{v1alpha1.PauseReconcileAnnotation: "true"}
			g.Spec.Replicas = 3
			g.Spec.Config = map[string]string{"fileReservedTime": "12"}
		})
		Eventually(groupCondition(ctx, ns, "paused", v1alpha1.ConditionWarning)).Should(Equal("True/Paused"))
		Expect(groupCondition(ctx, ns, "paused", v1alpha1.ConditionProgressing)()).To(Equal("False/Paused"))
		Consistently(func() int32 { return *getSTS(ctx, ns, "paused").Spec.Replicas }).Should(Equal(int32(1)))
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "paused-config"}, cm)).To(Succeed())
		Expect(cm.Data[metadata.BrokerConfigKey]).NotTo(ContainSubstring("fileReservedTime=12"))
		g := getBrokerGroup(ctx, ns, "paused")
		Expect(g.Status.ObservedGeneration).To(BeNumerically("<", g.Generation))
		Eventually(func() []string { return eventReasons(ctx, ns, "paused") }).Should(ContainElement("Paused"))

		updateGroup(ctx, ns, "paused", func(g *v1alpha1.BrokerGroup) { delete(g.Annotations, v1alpha1.PauseReconcileAnnotation) })
		Eventually(func() int32 { return *getSTS(ctx, ns, "paused").Spec.Replicas }).Should(Equal(int32(3)))
		Eventually(groupCondition(ctx, ns, "paused", v1alpha1.ConditionWarning)).Should(Equal("False/NoWarnings"))
	})

	It("reports an unknown broker property instead of applying it", func() {
		g := newBrokerGroup(ns, "badkey", 1)
		g.Spec.Config = map[string]string{"filereservedtime": "48", "diskMaxUsedSpaceRatio": "99", "noSuchKey": "1"}
		Expect(k8sClient.Create(ctx, g)).To(Succeed())
		Eventually(groupCondition(ctx, ns, "badkey", v1alpha1.ConditionReconcileSuccess)).Should(Equal("False/InvalidSpec"))
		msg := conditionMessage(getBrokerGroup(ctx, ns, "badkey").Status.Conditions, v1alpha1.ConditionReconcileSuccess)
		Expect(msg).To(And(ContainSubstring("filereservedtime: unknown key (did you mean fileReservedTime?)"),
			ContainSubstring("noSuchKey: unknown key"), ContainSubstring("diskMaxUsedSpaceRatio: 99 out of range")))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "badkey"}, &appsv1.StatefulSet{})).To(Satisfy(apierrors.IsNotFound))
		Eventually(func() []string { return eventReasons(ctx, ns, "badkey") }).Should(ContainElement("InvalidSpec"))

		updateGroup(ctx, ns, "badkey", func(g *v1alpha1.BrokerGroup) { g.Spec.Config = map[string]string{"fileReservedTime": "48"} })
		Eventually(groupCondition(ctx, ns, "badkey", v1alpha1.ConditionReconcileSuccess)).Should(Equal("True/Success"))
		eventuallySTS(ctx, ns, "badkey")
	})

	It("refuses to adopt an object it does not own", func() {
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken-config", Labels: map[string]string{metadata.LabelManagedBy: metadata.ManagedBy}},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, newBrokerGroup(ns, "taken", 1))).To(Succeed())
		Eventually(groupCondition(ctx, ns, "taken", v1alpha1.ConditionReconcileSuccess)).Should(Equal("False/ChildConflict"))
		Expect(conditionMessage(getBrokerGroup(ctx, ns, "taken").Status.Conditions, v1alpha1.ConditionReconcileSuccess)).To(ContainSubstring("ConfigMap taken-config"))
	})

	It("uses the stable DNS names of a referenced NameServer and follows its replica count", func() {
		nsrv := &v1alpha1.NameServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "names"}}
		g := newBrokerGroup(ns, "refd", 1)
		g.Spec.NameServerAddresses = nil
		g.Spec.NameServerRef = &v1alpha1.NameServerReference{Name: "names"}
		Expect(k8sClient.Create(ctx, g)).To(Succeed())
		Eventually(groupCondition(ctx, ns, "refd", v1alpha1.ConditionReconcileSuccess)).Should(Equal("False/NameServerNotFound"))

		Expect(k8sClient.Create(ctx, nsrv)).To(Succeed())
		Eventually(groupCondition(ctx, ns, "refd", v1alpha1.ConditionReconcileSuccess)).Should(Equal("True/Success"))
		want := []string{
			"names-0.names-headless." + ns + ".svc:9876",
			"names-1.names-headless." + ns + ".svc:9876",
		}
		Expect(getBrokerGroup(ctx, ns, "refd").Status.NameServerAddresses).To(Equal(want))
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "refd-config"}, cm)).To(Succeed())
		Expect(cm.Data[metadata.BrokerConfigKey]).To(ContainSubstring("namesrvAddr=" + strings.Join(want, ";")))

		By("scaling the NameServer updates the brokers' list")
		Eventually(func() error {
			cur := &v1alpha1.NameServer{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(nsrv), cur); err != nil {
				return err
			}
			cur.Spec.Replicas = ptr(int32(3))
			return k8sClient.Update(ctx, cur)
		}).Should(Succeed())
		Eventually(func() []string { return getBrokerGroup(ctx, ns, "refd").Status.NameServerAddresses }).Should(HaveLen(3))
	})

	It("deletes cleanly: no finalizer, children owned for garbage collection, claims retained by default", func() {
		keep := newBrokerGroup(ns, "keep", 1)
		drop := newBrokerGroup(ns, "wipe", 1)
		drop.Spec.Storage.ReclaimPolicy = v1alpha1.ReclaimDelete
		Expect(k8sClient.Create(ctx, keep)).To(Succeed())
		Expect(k8sClient.Create(ctx, drop)).To(Succeed())
		keepSTS := eventuallySTS(ctx, ns, "keep")
		wipeSTS := eventuallySTS(ctx, ns, "wipe")
		syncStatefulSet(ctx, ns, "keep")
		Expect(keepSTS.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted).To(Equal(appsv1.RetainPersistentVolumeClaimRetentionPolicyType))
		Expect(wipeSTS.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted).To(Equal(appsv1.DeletePersistentVolumeClaimRetentionPolicyType))
		Expect(wipeSTS.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled).To(Equal(appsv1.DeletePersistentVolumeClaimRetentionPolicyType))

		g := getBrokerGroup(ctx, ns, "keep")
		Expect(g.Finalizers).To(BeEmpty())
		Expect(k8sClient.Delete(ctx, g)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKeyFromObject(g), &v1alpha1.BrokerGroup{}) }).Should(Satisfy(apierrors.IsNotFound))
		// envtest runs no garbage collector: what deletes the children is their controller
		// owner reference (checked in the first test); the claim is not owned by anything.
		pvc := &corev1.PersistentVolumeClaim{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "store-keep-0"}, pvc)).To(Succeed())
		Expect(pvc.OwnerReferences).To(BeEmpty())
		sts := getSTS(ctx, ns, "keep")
		Expect(metav1.GetControllerOf(sts).UID).To(Equal(g.UID))
	})
})

func without(m map[string]string, key string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// crashLoop marks a pod's container as crash-looping (not Ready, restarted).
func crashLoop(ctx context.Context, ns, name string) {
	GinkgoHelper()
	Eventually(func() error {
		p, err := getPod(ctx, ns, name)
		if err != nil {
			return err
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image, ImageID: "x", RestartCount: 3,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		}}
		return k8sClient.Status().Update(ctx, p)
	}).Should(Succeed())
}
