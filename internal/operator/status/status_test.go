package status_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
	"github.com/gorocket/gorocket/internal/operator/status"
)

func get(conds []metav1.Condition, t string) string {
	c := meta.FindStatusCondition(conds, t)
	if c == nil {
		return ""
	}
	return string(c.Status) + "/" + c.Reason
}

func pod(ordinal int, hash string, ready bool) corev1.Pod {
	s := corev1.ConditionFalse
	if ready {
		s = corev1.ConditionTrue
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: metadata.PodName("g", ordinal), Annotations: map[string]string{metadata.AnnotationPodTemplateHash: hash}},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: s}}},
	}
}

func observation(replicas int32, pods ...corev1.Pod) status.BrokerGroupObservation {
	g := &v1alpha1.BrokerGroup{ObjectMeta: metav1.ObjectMeta{Name: "g", Generation: 4}, Spec: v1alpha1.BrokerGroupSpec{Replicas: replicas, ReplicationMode: v1alpha1.ReplicationSync}}
	sts := &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
		Replicas: &replicas,
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{metadata.AnnotationPodTemplateHash: "h2"}}},
	}}
	return status.BrokerGroupObservation{Group: g, StatefulSet: sts, Pods: pods}
}

var _ = Describe("BrokerGroup conditions", func() {
	It("are all healthy for a fully Ready, updated group", func() {
		o := observation(2, pod(0, "h2", true), pod(1, "h2", true))
		c := status.BrokerGroupConditions(o, nil)
		Expect(get(c, v1alpha1.ConditionAvailable)).To(Equal("True/MasterReady"))
		Expect(get(c, v1alpha1.ConditionAllReplicasReady)).To(Equal("True/AllPodsReady"))
		Expect(get(c, v1alpha1.ConditionProgressing)).To(Equal("False/UpToDate"))
		Expect(get(c, v1alpha1.ConditionReconcileSuccess)).To(Equal("True/Success"))
		Expect(get(c, v1alpha1.ConditionWarning)).To(Equal("False/NoWarnings"))
		Expect(get(c, v1alpha1.ConditionBrokersRegistered)).To(BeEmpty(), "only with an admin client")
		for _, x := range c {
			Expect(x.ObservedGeneration).To(Equal(int64(4)))
		}
	})

	It("report a roll, a missing master and a refusal", func() {
		o := observation(2, pod(1, "h1", true))
		o.ScaleDownRefused = "scale-down refused: because"
		o.RollBlocked = "blocked"
		c := status.BrokerGroupConditions(o, nil)
		Expect(get(c, v1alpha1.ConditionAvailable)).To(Equal("False/MasterNotReady"))
		Expect(get(c, v1alpha1.ConditionProgressing)).To(Equal("True/RollingRestart"))
		Expect(get(c, v1alpha1.ConditionWarning)).To(Equal("True/ScaleDownRefused"), "a refusal outranks a blocked roll")
		o.Paused = true
		c = status.BrokerGroupConditions(o, c)
		Expect(get(c, v1alpha1.ConditionWarning)).To(Equal("True/Paused"))
		Expect(get(c, v1alpha1.ConditionProgressing)).To(Equal("False/Paused"))
	})

	It("tell a pod being recreated from a scale-up", func() {
		Expect(get(status.BrokerGroupConditions(observation(3, pod(1, "h2", true), pod(2, "h2", true)), nil),
			v1alpha1.ConditionProgressing)).To(Equal("True/WaitingForPods"))
		Expect(get(status.BrokerGroupConditions(observation(3, pod(0, "h2", true), pod(1, "h2", true)), nil),
			v1alpha1.ConditionProgressing)).To(Equal("True/Scaling"))
	})

	It("keep the transition time of a condition whose status did not change", func() {
		old := []metav1.Condition{{Type: v1alpha1.ConditionAvailable, Status: metav1.ConditionTrue, Reason: "MasterReady",
			LastTransitionTime: metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))}}
		c := status.BrokerGroupConditions(observation(1, pod(0, "h2", true)), old)
		Expect(meta.FindStatusCondition(c, v1alpha1.ConditionAvailable).LastTransitionTime.Year()).To(Equal(2020))
		Expect(old[0].Message).To(BeEmpty(), "the old slice is not modified")
		c = status.BrokerGroupConditions(observation(1, pod(0, "h2", false)), old)
		Expect(meta.FindStatusCondition(c, v1alpha1.ConditionAvailable).LastTransitionTime.Year()).NotTo(Equal(2020))
	})

	It("report registration when the nameservers can be asked", func() {
		o := observation(2, pod(0, "h2", true), pod(1, "h2", true))
		o.AdminEnabled = true
		o.Registered = map[int64]bool{0: true}
		Expect(get(status.BrokerGroupConditions(o, nil), v1alpha1.ConditionBrokersRegistered)).To(Equal("False/BrokersNotRegistered"))
		o.Registered[1] = true
		Expect(get(status.BrokerGroupConditions(o, nil), v1alpha1.ConditionBrokersRegistered)).To(Equal("True/BrokersRegistered"))
		o.AdminError = "dial tcp: refused"
		c := status.BrokerGroupConditions(o, nil)
		Expect(get(c, v1alpha1.ConditionBrokersRegistered)).To(Equal("False/AdminUnavailable"))
		o.AdminError, o.Registered = "", nil
		Expect(get(status.BrokerGroupConditions(o, c), v1alpha1.ConditionBrokersRegistered)).To(Equal("False/AdminUnavailable"), "kept when not asked")
		o.AdminEnabled = false
		Expect(get(status.BrokerGroupConditions(o, c), v1alpha1.ConditionBrokersRegistered)).To(BeEmpty())
	})

	It("list members by ordinal with their role", func() {
		o := observation(3, pod(2, "h1", false), pod(0, "h2", true), pod(1, "h2", true))
		m := status.BrokerMembers(o)
		Expect(m).To(HaveLen(3))
		Expect(m[0]).To(Equal(v1alpha1.BrokerMember{Pod: "g-0", BrokerID: 0, Role: "SYNC_MASTER", Ready: true, Updated: true}))
		Expect(m[2]).To(Equal(v1alpha1.BrokerMember{Pod: "g-2", BrokerID: 2, Role: "SLAVE", Ready: false, Updated: false}))
	})
})

var _ = Describe("NameServer conditions", func() {
	sts := func(ready, updated int32, cur, upd string) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Generation: 3},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 2, ReadyReplicas: ready, UpdatedReplicas: updated,
				CurrentRevision: cur, UpdateRevision: upd},
		}
	}
	It("follow the StatefulSet status", func() {
		c := status.NameServerConditions(status.NameServerObservation{Generation: 1, DesiredReplicas: 2, StatefulSet: sts(2, 2, "r1", "r1")}, nil)
		Expect(get(c, v1alpha1.ConditionAvailable)).To(Equal("True/NameServerReady"))
		Expect(get(c, v1alpha1.ConditionAllReplicasReady)).To(Equal("True/AllPodsReady"))
		Expect(get(c, v1alpha1.ConditionProgressing)).To(Equal("False/UpToDate"))

		c = status.NameServerConditions(status.NameServerObservation{Generation: 1, DesiredReplicas: 2, StatefulSet: sts(1, 1, "r1", "r2")}, nil)
		Expect(get(c, v1alpha1.ConditionAvailable)).To(Equal("True/NameServerReady"))
		Expect(get(c, v1alpha1.ConditionAllReplicasReady)).To(Equal("False/PodsNotReady"))
		Expect(get(c, v1alpha1.ConditionProgressing)).To(Equal("True/RollingRestart"))

		c = status.NameServerConditions(status.NameServerObservation{Generation: 1, DesiredReplicas: 2,
			Result: status.ReconcileResult{Reason: v1alpha1.ReasonChildConflict, Message: "taken"}}, nil)
		Expect(get(c, v1alpha1.ConditionAvailable)).To(Equal("False/StatefulSetMissing"))
		Expect(get(c, v1alpha1.ConditionReconcileSuccess)).To(Equal("False/ChildConflict"))
	})
})
