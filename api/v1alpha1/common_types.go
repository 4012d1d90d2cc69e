package v1alpha1

// LocalObjectReference names another object in the same namespace. References never cross
// namespaces, so a team can only point at the LMOs and packages of its own namespace.
type LocalObjectReference struct {
	// name of the referenced object in the same namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// SiteLicense is the seats value of a license that covers every user of the subscriber org
// (written to the LMO as -1).
const SiteLicense = "SiteLicense"

// Never is the expiration value of a license that does not expire.
const Never = "Never"

// LicenseStatus is a status of an LMA license record.
type LicenseStatus string

// The license statuses of the LMA. Uninstalled is set by Salesforce only and is terminal.
const (
	LicenseStatusTrial       LicenseStatus = "Trial"
	LicenseStatusActive      LicenseStatus = "Active"
	LicenseStatusSuspended   LicenseStatus = "Suspended"
	LicenseStatusUninstalled LicenseStatus = "Uninstalled"
)

// Policy says whether the operator writes the spec to the LMO or only reports how the LMO differs.
// +kubebuilder:validation:Enum=Enforce;Observe
type Policy string

// The management policies.
const (
	// PolicyEnforce writes the spec to the LMO.
	PolicyEnforce Policy = "Enforce"
	// PolicyObserve only reports drift between the spec and the LMO.
	PolicyObserve Policy = "Observe"
)
