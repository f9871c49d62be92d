// Package resource holds the pure builders of the objects the gorocket operator owns. A builder
// never talks to the API server: Build returns the object's identity, and Update sets every
// field the operator owns on an object (new, or as read from the server), leaving the fields
// it does not own alone. The controllers apply builders with CreateOrUpdate.
package resource

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Builder builds one child object.
type Builder interface {
	// Build returns the object with only its name and namespace set.
	Build() client.Object
	// Update sets the fields the operator owns. It is idempotent, and leaves fields that the
	// API server or other controllers set (cluster IPs, immutable fields after creation,
	// foreign labels and annotations) alone.
	Update(obj client.Object) error
}

// ErrInvalidSpec marks errors caused by the user's spec (for example an unknown broker
// property). The controllers report them in a condition instead of retrying.
var ErrInvalidSpec = errors.New("invalid spec")

// Defaults are operator-wide settings the builders fall back on.
type Defaults struct {
	// NameServerImage is used when a NameServer does not name an image.
	NameServerImage string
	// BrokerImage is used when a BrokerGroup does not name an image.
	BrokerImage string
	// ClusterDomain, when set, is appended to pod DNS names ("<ns>.svc.<domain>").
	ClusterDomain string
}

func wrongType(want string, obj client.Object) error {
	return fmt.Errorf("resource: builder for %s got %T", want, obj)
}

// mergeMap returns base with overlay's entries added (overlay wins).
func mergeMap(base, overlay map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(overlay))
	maps.Copy(out, base)
	maps.Copy(out, overlay)
	return out
}

// hashOf is a short, stable hash of v's JSON encoding (map keys are sorted by encoding/json).
func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value hashed here is a plain API struct; Marshal cannot fail on it.
		panic(fmt.Sprintf("resource: hashing %T: %v", v, err))
	}
	return hashBytes(b)
}

func hashBytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

func ptrTo[T any](v T) *T { return &v }
