package plan_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/plan"
)

const stsName = "bg"

func group(replicas int32, mode v1alpha1.ReplicationMode) *v1alpha1.BrokerGroup {
	return &v1alpha1.BrokerGroup{
		ObjectMeta: metav1.ObjectMeta{Name: stsName, Namespace: "ns"},
		Spec:       v1alpha1.BrokerGroupSpec{Replicas: replicas, ReplicationMode: mode},
	}
}

func statefulSet(replicas int32, hash string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: stsName, Generation: 2},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{metadata.AnnotationPodTemplateHash: hash}}},
		},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 2},
	}
}

// pod describes a pod as "<hash>/<ready>", e.g. "new/ready", "old/down", "new/crash".
func pods(specs ...string) []corev1.Pod {
	var out []corev1.Pod
	for i, s := range specs {
		if s == "" {
			continue // missing ordinal
		}
		hash, state, ok := strings.Cut(s, "/")
		if !ok {
			panic(fmt.Sprintf("bad pod spec %q", s))
		}
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: metadata.PodName(stsName, i), UID: "uid",
			Annotations: map[string]string{metadata.AnnotationPodTemplateHash: hash},
		}}
		ready := corev1.ConditionFalse
		if state == "ready" {
			ready = corev1.ConditionTrue
		}
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		if state == "crash" {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: 2, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
		}
		if state == "gone" {
			now := metav1.Now()
			p.DeletionTimestamp = &now
		}
		out = append(out, p)
	}
	return out
}

var _ = Describe("Scale", func() {
	It("creates what the spec asks when there is no StatefulSet", func() {
		Expect(plan.Scale(group(3, v1alpha1.ReplicationAsync), nil, nil)).To(Equal(plan.ScaleDecision{Replicas: 3}))
	})
	It("always scales up", func() {
		d := plan.Scale(group(4, v1alpha1.ReplicationAsync), statefulSet(2, "new"), pods("new/down", "new/down"))
		Expect(d).To(Equal(plan.ScaleDecision{Replicas: 4}))
	})
	It("scales down when the remaining brokers are Ready", func() {
		d := plan.Scale(group(1, v1alpha1.ReplicationAsync), statefulSet(3, "new"), pods("new/ready", "new/down", "new/crash"))
		Expect(d).To(Equal(plan.ScaleDecision{Replicas: 1}))
	})
	DescribeTable("refuses an unsafe scale-down and keeps the current count",
		func(g *v1alpha1.BrokerGroup, current int, ps []corev1.Pod, why string) {
			d := plan.Scale(g, statefulSet(int32(current), "new"), ps)
			Expect(d.Replicas).To(Equal(int32(current)))
			Expect(d.Refused).To(ContainSubstring(why))
		},
		Entry("below one broker", group(0, v1alpha1.ReplicationAsync), 2, pods("new/ready", "new/ready"), "keeps at least its master"),
		Entry("a SYNC_MASTER without a slave", group(1, v1alpha1.ReplicationSync), 2, pods("new/ready", "new/ready"), "needs a slave"),
		Entry("the master not Ready", group(1, v1alpha1.ReplicationAsync), 3, pods("new/down", "new/ready", "new/ready"), "bg-0 (not Ready)"),
		Entry("a remaining slave missing", group(2, v1alpha1.ReplicationAsync), 3, pods("new/ready", "", "new/ready"), "bg-1 (missing)"),
	)
})

var _ = Describe("Roll", func() {
	roll := func(sts *appsv1.StatefulSet, ps []corev1.Pod, reg map[int64]bool) plan.RollDecision {
		return plan.Roll(stsName, sts, ps, reg)
	}
	deleted := func(d plan.RollDecision) string {
		if d.Delete == nil {
			return ""
		}
		return d.Delete.Name
	}

	It("does nothing when every pod is on the current template", func() {
		d := roll(statefulSet(3, "new"), pods("new/ready", "new/ready", "new/down"), nil)
		Expect(d).To(Equal(plan.RollDecision{}))
	})
	It("restarts the highest-ordinal outdated slave first and the master last", func() {
		Expect(deleted(roll(statefulSet(3, "new"), pods("old/ready", "old/ready", "old/ready"), nil))).To(Equal("bg-2"))
		Expect(deleted(roll(statefulSet(3, "new"), pods("old/ready", "old/ready", "new/ready"), nil))).To(Equal("bg-1"))
		Expect(deleted(roll(statefulSet(3, "new"), pods("old/ready", "new/ready", "new/ready"), nil))).To(Equal("bg-0"))
	})
	It("waits for the StatefulSet controller to observe the new template", func() {
		sts := statefulSet(2, "new")
		sts.Status.ObservedGeneration = 1
		d := roll(sts, pods("old/ready", "old/ready"), nil)
		Expect(d.Delete).To(BeNil())
		Expect(d.Waiting).To(ContainSubstring("observe the new template"))
	})
	It("waits for the restarted pod to be recreated and Ready", func() {
		d := roll(statefulSet(3, "new"), pods("old/ready", "old/ready", ""), nil)
		Expect(d.Delete).To(BeNil())
		Expect(d.Waiting).To(Equal("bg-2 to be created"))
		d = roll(statefulSet(3, "new"), pods("old/ready", "old/ready", "new/down"), nil)
		Expect(d.Delete).To(BeNil())
		Expect(d.Waiting).To(Equal("bg-2 to become Ready"))
		Expect(d.Blocked).To(BeEmpty())
		Expect(d.Pending).To(Equal(2))
	})
	It("waits while a pod terminates", func() {
		d := roll(statefulSet(3, "new"), pods("old/ready", "old/ready", "new/gone"), nil)
		Expect(d.Delete).To(BeNil())
		Expect(d.Waiting).To(Equal("bg-2 to terminate"))
	})
	It("reports a roll blocked by a crashing updated pod", func() {
		d := roll(statefulSet(3, "new"), pods("old/ready", "old/ready", "new/crash"), nil)
		Expect(d.Delete).To(BeNil())
		Expect(d.Blocked).To(And(ContainSubstring("bg-2"), ContainSubstring("CrashLoopBackOff")))
	})
	It("replaces an outdated pod that is not Ready at once", func() {
		Expect(deleted(roll(statefulSet(3, "new"), pods("old/ready", "old/crash", "new/down"), nil))).To(Equal("bg-1"))
		Expect(deleted(roll(statefulSet(3, "new"), pods("old/down", "old/ready", "old/ready"), nil))).To(Equal("bg-0"))
	})
	It("waits for updated brokers to register when the nameservers can be asked", func() {
		d := roll(statefulSet(2, "new"), pods("old/ready", "new/ready"), map[int64]bool{0: true, 1: false})
		Expect(d.Delete).To(BeNil())
		Expect(d.Waiting).To(Equal("bg-1 to register with the nameservers"))
		Expect(d.AwaitsRegistration).To(BeTrue())
		Expect(deleted(roll(statefulSet(2, "new"), pods("old/ready", "new/ready"), map[int64]bool{0: true, 1: true}))).To(Equal("bg-0"))
	})
	It("ignores pods a scale-down is removing", func() {
		d := roll(statefulSet(2, "new"), pods("new/ready", "new/ready", "old/ready"), nil)
		Expect(d).To(Equal(plan.RollDecision{}))
	})
})
