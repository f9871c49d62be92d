// Package v1alpha1 holds the gorocket.io/v1alpha1 API: the NameServer and BrokerGroup
// custom resources the gorocket operator reconciles.
//
// The package imports nothing of the gorocket module, so clients can depend on it alone.
//
// +kubebuilder:object:generate=true
// +groupName=gorocket.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of the gorocket custom resources.
	GroupVersion = schema.GroupVersion{Group: "gorocket.io", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this package with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&NameServer{}, &NameServerList{},
		&BrokerGroup{}, &BrokerGroupList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
