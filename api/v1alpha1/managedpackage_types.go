package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ManagedPackageSpec names one managed package associated with an LMO and the default licensing its
// new installs should get.
type ManagedPackageSpec struct {
	// lmoRef names the LicenseManagementOrg, in the same namespace, the package is associated with.
	// +required
	LMORef LocalObjectReference `json:"lmoRef"`

	// packageID is the package's 033 id (15 or 18 characters), as the LMO's Package record shows it in
	// sfLma__Package_ID__c. Immutable.
	// +kubebuilder:validation:Pattern=`^033[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$`
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="packageID is immutable"
	// +required
	PackageID string `json:"packageID"`

	// defaults are the license terms new installs should get. They mirror the package's default license
	// settings in the Partner Console, which has no API: the operator checks installs against them.
	// +optional
	Defaults *PackageDefaults `json:"defaults,omitempty"`

	// defaultsPolicy says what happens to an install whose first terms differ from defaults: Observe
	// reports it, Enforce sets its terms to the defaults (unless a License resource exists for that
	// subscriber, which always wins).
	// +kubebuilder:default=Observe
	// +optional
	DefaultsPolicy Policy `json:"defaultsPolicy,omitempty"`

	// defaultsEffectiveFrom: defaults apply to installs made after this time. Defaults to the
	// ManagedPackage's creation time, and cannot precede it unless the ManagedPackage carries the
	// annotation licensing.lmo-operator.dev/allow-defaults-before-creation: "true" (installs made
	// before the package was declared are otherwise left alone). Each install is set at most once,
	// and only while the LMO's field history shows its terms unchanged since the install.
	// +optional
	DefaultsEffectiveFrom *metav1.Time `json:"defaultsEffectiveFrom,omitempty"`
}

// PackageDefaults are the terms a new install of the package gets.
// +kubebuilder:validation:XValidation:rule="!has(self.trialDays) || self.status == 'Trial'",message="trialDays may only be set when status is Trial",fieldPath=".trialDays"
// +kubebuilder:validation:XValidation:rule="!has(self.activeDays) || self.status == 'Active'",message="activeDays may only be set when status is Active",fieldPath=".activeDays"
// +kubebuilder:validation:XValidation:rule="self.status != 'Trial' || has(self.trialDays)",message="trialDays is required when status is Trial",fieldPath=".trialDays"
type PackageDefaults struct {
	// status of a new install: Trial or Active.
	// +kubebuilder:validation:Enum=Trial;Active
	// +required
	Status LicenseStatus `json:"status"`

	// trialDays is the length of the trial, 1 to 90 days. Only with status Trial.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=90
	// +optional
	TrialDays *int32 `json:"trialDays,omitempty"`

	// activeDays is how long an Active install's license lasts. Only with status Active; leave it out
	// for a license that does not expire.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=36500
	// +optional
	ActiveDays *int32 `json:"activeDays,omitempty"`

	// seats of a new install: 1 to 99000000, or "SiteLicense" for every user of the subscriber org.
	// Sandbox installs always get a site license and are exempt.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 99000000) : self == 'SiteLicense'",message="seats must be an integer from 1 to 99000000 or \"SiteLicense\""
	// +required
	Seats intstr.IntOrString `json:"seats"`
}

// ManagedPackageStatus is what the operator last saw of the package in the LMO.
type ManagedPackageStatus struct {
	// conditions: Ready, Associated and DefaultsMatch.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// package is the LMO's Package record.
	// +optional
	Package *PackageRecordStatus `json:"package,omitempty"`

	// installBase counts the package's license records by state.
	// +optional
	InstallBase *InstallBase `json:"installBase,omitempty"`

	// defaults reports how installs compare with spec.defaults.
	// +optional
	Defaults *DefaultsStatus `json:"defaults,omitempty"`

	// observedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// PackageRecordStatus is the LMO's sfLma__Package__c record.
type PackageRecordStatus struct {
	// recordID is the Package record's id.
	RecordID string `json:"recordID,omitempty"`
	// name is the package's name.
	Name string `json:"name,omitempty"`
	// latestVersion is the package's latest version number.
	LatestVersion string `json:"latestVersion,omitempty"`
}

// InstallBase counts license records by state. expired counts Trial and Active licenses whose
// expiration has passed; sandbox counts licenses of sandbox orgs, whatever their status.
type InstallBase struct {
	Trial       int32 `json:"trial"`
	Active      int32 `json:"active"`
	Suspended   int32 `json:"suspended"`
	Uninstalled int32 `json:"uninstalled"`
	Expired     int32 `json:"expired"`
	Sandbox     int32 `json:"sandbox"`
	Total       int32 `json:"total"`
}

// DefaultsStatus reports the defaults check.
type DefaultsStatus struct {
	// checked is the number of installs after defaultsEffectiveFrom that were compared with defaults.
	Checked int32 `json:"checked"`
	// mismatched is the number of those whose terms differ from defaults.
	Mismatched int32 `json:"mismatched"`
	// enforced is the number of installs whose terms the operator set to defaults.
	Enforced int32 `json:"enforced"`
	// watermark is the install date up to which installs have been checked.
	// +optional
	Watermark *metav1.Time `json:"watermark,omitempty"`
}

// ManagedPackage is one managed package associated with an LMO and the default licensing its new
// installs should get. Licenses refer to it by name.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=mpkg,categories=licensing
// +kubebuilder:printcolumn:name="Package ID",type=string,JSONPath=`.spec.packageID`
// +kubebuilder:printcolumn:name="LMO",type=string,JSONPath=`.spec.lmoRef.name`
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.status.package.name`
// +kubebuilder:printcolumn:name="Installs",type=integer,JSONPath=`.status.installBase.total`
// +kubebuilder:printcolumn:name="Defaults",type=string,JSONPath=`.spec.defaultsPolicy`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ManagedPackage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec names the package and its default licensing.
	// +required
	Spec ManagedPackageSpec `json:"spec"`
	// status is what the operator last saw of the package.
	// Until the operator's first status write it reads as observedGeneration 0 (a default the API
	// server fills on every read), so Flux's kstatus sees a new object as InProgress, not Current.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status ManagedPackageStatus `json:"status,omitempty"`
}

// ManagedPackageList is a list of ManagedPackages.
// +kubebuilder:object:root=true
type ManagedPackageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ManagedPackage `json:"items"`
}
