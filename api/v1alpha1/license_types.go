package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DeletionPolicy says what happens to the LMO record when its License resource is deleted.
// +kubebuilder:validation:Enum=Orphan;Suspend
type DeletionPolicy string

// The deletion policies.
const (
	// DeletionPolicyOrphan leaves the LMO record as it is.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
	// DeletionPolicySuspend suspends the LMO record; guarded like every access reduction.
	DeletionPolicySuspend DeletionPolicy = "Suspend"
)

// LicenseSpec is the desired terms of one customer's license. A field left out is not managed: the
// operator neither writes it nor reports drift on it.
// +kubebuilder:validation:XValidation:rule="has(self.subscriberOrgID) != has(self.licenseID)",message="exactly one of subscriberOrgID and licenseID must be set"
// +kubebuilder:validation:XValidation:rule="has(self.subscriberOrgID) == has(oldSelf.subscriberOrgID) && (!has(self.subscriberOrgID) || self.subscriberOrgID == oldSelf.subscriberOrgID)",message="subscriberOrgID is immutable",fieldPath=".subscriberOrgID"
// +kubebuilder:validation:XValidation:rule="has(self.licenseID) == has(oldSelf.licenseID) && (!has(self.licenseID) || self.licenseID == oldSelf.licenseID)",message="licenseID is immutable",fieldPath=".licenseID"
// +kubebuilder:validation:XValidation:rule="self.packageRef == oldSelf.packageRef",message="packageRef is immutable",fieldPath=".packageRef"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.status) || !has(self.status) || oldSelf.status != 'Active' || self.status != 'Trial'",message="status cannot go from Active back to Trial: Salesforce never lets an Active license become a Trial again",fieldPath=".status"
type LicenseSpec struct {
	// packageRef names the ManagedPackage, in the same namespace, the license belongs to; the package
	// gives the LMO and the package id. Immutable.
	// +required
	PackageRef LocalObjectReference `json:"packageRef"`

	// subscriberOrgID is the customer's org id (00D…, 15 or 18 characters; matched on the
	// case-sensitive 15-character prefix). Set exactly one of subscriberOrgID and licenseID. Immutable.
	// +kubebuilder:validation:Pattern=`^00D[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$`
	// +kubebuilder:validation:MaxLength=18
	// +optional
	SubscriberOrgID string `json:"subscriberOrgID,omitempty"`

	// licenseID pins one sfLma__License__c record by id (15 or 18 characters), for a subscriber with
	// several licenses of the package. Set exactly one of subscriberOrgID and licenseID. Immutable.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$`
	// +kubebuilder:validation:MaxLength=18
	// +optional
	LicenseID string `json:"licenseID,omitempty"`

	// status is the license status: Trial, Active or Suspended. Leave it out to leave it unmanaged.
	// An Active license can never go back to Trial. Moving an Active or Trial license to Suspended
	// cuts the customer off and is held until the annotation
	// licensing.lmo-operator.dev/allow-access-reduction names that change (status.heldChange.approval).
	// +kubebuilder:validation:Enum=Trial;Active;Suspended
	// +optional
	Status LicenseStatus `json:"status,omitempty"`

	// seats is the number of licensed users, 1 to 99000000, or "SiteLicense" for every user of the
	// subscriber org. Leave it out to leave it unmanaged. Fewer seats than the customer uses is an
	// access reduction, held unless approved by annotation.
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 1 && self <= 99000000) : self == 'SiteLicense'",message="seats must be an integer from 1 to 99000000 or \"SiteLicense\""
	// +optional
	Seats *intstr.IntOrString `json:"seats,omitempty"`

	// expiration is the last day of the license, YYYY-MM-DD, or "Never" for a license that does not
	// expire. Leave it out to leave it unmanaged. A Trial lasts at most 90 days. A date already past is
	// an access reduction, held unless approved by annotation.
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:Pattern=`^([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])|Never)$`
	// +kubebuilder:validation:XValidation:rule="self == 'Never' || !format.date().validate(self).hasValue()",message="expiration must be a calendar date (YYYY-MM-DD) or Never"
	// +optional
	Expiration string `json:"expiration,omitempty"`

	// featureParameters are the values of the package's LMO-to-Subscriber feature parameters for this
	// customer, keyed by name. A parameter left out is not managed. Subscriber-to-LMO parameters are
	// reported in status and cannot be set.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	// +optional
	FeatureParameters []FeatureParameterValue `json:"featureParameters,omitempty"`

	// managementPolicy: Enforce writes the spec to the LMO; Observe only reports drift.
	// +kubebuilder:default=Enforce
	// +optional
	ManagementPolicy Policy `json:"managementPolicy,omitempty"`

	// deletionPolicy says what happens to the LMO record when this License is deleted: Orphan leaves
	// it; Suspend suspends it, which is an access reduction and held unless approved by annotation.
	// +kubebuilder:default=Orphan
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// FeatureParameterValue is the value of one feature parameter: exactly one of boolean, integer, date.
// +kubebuilder:validation:XValidation:rule="(has(self.boolean) ? 1 : 0) + (has(self.integer) ? 1 : 0) + (has(self.date) ? 1 : 0) == 1",message="a feature parameter takes exactly one value: boolean, integer or date"
type FeatureParameterValue struct {
	// name is the feature parameter's full name as the LMO shows it (sfFma__FullName__c), for example
	// acme__MaxProjects.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_]*$`
	// +required
	Name string `json:"name"`

	// boolean is the value of a Boolean feature parameter.
	// +optional
	Boolean *bool `json:"boolean,omitempty"`

	// integer is the value of an Integer feature parameter.
	// +kubebuilder:validation:Minimum=-2147483648
	// +kubebuilder:validation:Maximum=2147483647
	// +optional
	Integer *int64 `json:"integer,omitempty"`

	// date is the value of a Date feature parameter, YYYY-MM-DD.
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:Pattern=`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$`
	// +kubebuilder:validation:XValidation:rule="!format.date().validate(self).hasValue()",message="date must be a calendar date (YYYY-MM-DD)"
	// +optional
	Date *string `json:"date,omitempty"`
}

// LicenseResourceStatus is what the operator last saw of the license record and how it compares with
// the spec.
type LicenseResourceStatus struct {
	// licenseID is the id of the sfLma__License__c record this License resolved to.
	// +optional
	LicenseID string `json:"licenseID,omitempty"`

	// observed is the license record as the LMO last showed it.
	// +optional
	Observed *ObservedLicense `json:"observed,omitempty"`

	// drift lists each managed field whose LMO value differs from the spec, in a stable order.
	// +listType=map
	// +listMapKey=field
	// +optional
	Drift []FieldDrift `json:"drift,omitempty"`

	// driftSummary names the drifted fields, comma-separated, for kubectl get.
	// +optional
	DriftSummary string `json:"driftSummary,omitempty"`

	// heldChange is set while a change that cuts the customer's access now is held: how it cuts
	// access, and the annotation value that approves it.
	// +optional
	HeldChange *HeldChange `json:"heldChange,omitempty"`

	// expiryNotice is the last notice (an Event) given about the record's expiration: the 30-day
	// and 7-day windows before it, and the lapse. It is written only when a notice is given, so each
	// notice is given once, across restarts, without a status write per day.
	// +optional
	ExpiryNotice *ExpiryNotice `json:"expiryNotice,omitempty"`

	// lastCorrection is the last write that put back a managed field a person changed in the LMO:
	// which field, who changed it and when, and the value put back. It outlives the drift the write
	// ended.
	// +optional
	LastCorrection *Correction `json:"lastCorrection,omitempty"`

	// conditions: Ready, Reconciling and Stalled (kstatus; the last two only while True), Drifted and
	// Synced.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lastSyncTime is when the operator last found the LMO record matching the spec or wrote it.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// observedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// HeldChange is a change to a license record that waits for approval.
type HeldChange struct {
	// reductions say how the change cuts the customer's access now.
	Reductions []string `json:"reductions"`

	// approval names this change (the record, and each field's value before and after). Setting the
	// annotation licensing.lmo-operator.dev/allow-access-reduction to it approves this change and no
	// other: when the spec or the record changes, the new change is held again with a new name.
	Approval string `json:"approval"`
}

// The terms an expiry notice is about.
const (
	// ExpiryTermTrial is a Trial license.
	ExpiryTermTrial = "Trial"
	// ExpiryTermPaid is an Active license that expires: its renewal.
	ExpiryTermPaid = "Paid"
)

// The windows of a license's expiration that notices are given for.
const (
	// ExpiryWindow30Days: 8 to 30 days are left before the expiration.
	ExpiryWindow30Days = "30d"
	// ExpiryWindow7Days: the expiration is today or within 7 days.
	ExpiryWindow7Days = "7d"
	// ExpiryWindowLapsed: the expiration has passed (up to 30 days ago).
	ExpiryWindowLapsed = "Lapsed"
)

// ExpiryNotice is a notice given about a license's expiration.
type ExpiryNotice struct {
	// term is Trial or Paid.
	// +kubebuilder:validation:Enum=Trial;Paid
	Term string `json:"term"`
	// expiration is the expiration date the notice was about, YYYY-MM-DD: a new date (a renewal or
	// an extension) starts the notices again.
	Expiration string `json:"expiration"`
	// window is 30d, 7d or Lapsed.
	// +kubebuilder:validation:Enum=30d;7d;Lapsed
	Window string `json:"window"`
	// givenAt is when the notice was given.
	GivenAt metav1.Time `json:"givenAt"`
}

// Correction is a write that put back managed fields a person had changed in the LMO.
type Correction struct {
	// fields are the fields put back, in drift order.
	// +listType=map
	// +listMapKey=field
	Fields []CorrectedField `json:"fields"`
	// correctedAt is when the write succeeded.
	CorrectedAt metav1.Time `json:"correctedAt"`
}

// CorrectedField is one field a correction put back.
type CorrectedField struct {
	// field is the spec field: status, seats, expiration or featureParameters[NAME].
	Field string `json:"field"`
	// replaced is the value the person had set.
	Replaced string `json:"replaced"`
	// restored is the value put back (the spec's).
	Restored string `json:"restored"`
	// changedBy is the name of the LMO user who had changed the field.
	// +optional
	ChangedBy string `json:"changedBy,omitempty"`
	// changedByUsername is that user's Salesforce username, which, unlike a name, is unique.
	// +optional
	ChangedByUsername string `json:"changedByUsername,omitempty"`
	// changedAt is when they changed it.
	// +optional
	ChangedAt *metav1.Time `json:"changedAt,omitempty"`
}

// ObservedLicense is the license record as the LMO last showed it.
type ObservedLicense struct {
	// status of the record: Trial, Active, Suspended or Uninstalled.
	// +optional
	Status LicenseStatus `json:"status,omitempty"`
	// recordType is the record's record type (RecordType.Name), the status the LMA page shows: it
	// can differ from status when something changed one without the other. Empty when the record has
	// none.
	// +optional
	RecordType string `json:"recordType,omitempty"`
	// notEditable, when set, says why the LMA does not let anyone modify the record (its License
	// Type, as for a license AppExchange Checkout provisioned); the operator never writes it.
	// +optional
	NotEditable string `json:"notEditable,omitempty"`
	// customer is the name of the customer behind the license: its account's name, else the company
	// of the lead the install created. Never a person's name.
	// +kubebuilder:validation:MaxLength=255
	// +optional
	Customer string `json:"customer,omitempty"`
	// subscriberOrg is the state of the customer's org as the LMA keeps it on the license; absent when
	// the LMA has no such fields.
	// +optional
	SubscriberOrg *ObservedSubscriberOrg `json:"subscriberOrg,omitempty"`
	// seats of the record, or "SiteLicense".
	// +kubebuilder:validation:XIntOrString
	// +optional
	Seats *intstr.IntOrString `json:"seats,omitempty"`
	// expiration of the record, YYYY-MM-DD, or "Never".
	// +optional
	Expiration string `json:"expiration,omitempty"`
	// usedLicenses is the number of seats the customer uses.
	// +optional
	UsedLicenses *int64 `json:"usedLicenses,omitempty"`
	// installDate is the day the package was installed.
	// +optional
	InstallDate string `json:"installDate,omitempty"`
	// edition is the subscriber org's edition.
	// +optional
	Edition string `json:"edition,omitempty"`
	// isSandbox is true when the subscriber org is a sandbox.
	// +optional
	IsSandbox bool `json:"isSandbox,omitempty"`
	// packageVersion is the installed version number.
	// +optional
	PackageVersion string `json:"packageVersion,omitempty"`
	// lastModifiedBy is the name of the user who last changed the record.
	// +optional
	LastModifiedBy string `json:"lastModifiedBy,omitempty"`
	// lastModifiedAt is when the record last changed.
	// +optional
	LastModifiedAt *metav1.Time `json:"lastModifiedAt,omitempty"`
	// featureParameters are the record's feature parameter values, in both directions.
	// +listType=map
	// +listMapKey=name
	// +optional
	FeatureParameters []ObservedFeatureParameter `json:"featureParameters,omitempty"`
}

// ObservedSubscriberOrg is the subscriber org's own state, as the LMA records it on the license.
type ObservedSubscriberOrg struct {
	// status is the org's status (sfLma__Org_Status__c) as the LMA keeps it, e.g. ACTIVE, TRIAL,
	// FREE, DELETED or PENDING_DELETE. A deleted org's license is never written.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Status string `json:"status,omitempty"`
	// trialExpiration is the day a trial org expires (YYYY-MM-DD), unrelated to the license's own
	// expiration.
	// +optional
	TrialExpiration string `json:"trialExpiration,omitempty"`
}

// ObservedFeatureParameter is one feature parameter value of the license record.
type ObservedFeatureParameter struct {
	// name is the feature parameter's full name.
	Name string `json:"name"`
	// direction is "LMO to Subscriber" (set by the operator) or "Subscriber to LMO" (reported by the
	// subscriber org, read-only).
	// +optional
	Direction string `json:"direction,omitempty"`
	// value is the value as text: true/false, an integer, or YYYY-MM-DD; empty when unset.
	// +optional
	Value string `json:"value,omitempty"`
}

// FieldDrift is one managed field whose LMO value differs from the spec.
type FieldDrift struct {
	// field is the spec field: status, seats, expiration or featureParameters[NAME].
	Field string `json:"field"`
	// desired is the spec's value as text.
	Desired string `json:"desired"`
	// observed is the LMO's value as text.
	Observed string `json:"observed"`
	// changedBy is the LMO user who last changed the field, from the record's field history.
	// +optional
	ChangedBy string `json:"changedBy,omitempty"`
	// changedByUsername is that user's Salesforce username, which, unlike a name, is unique.
	// +optional
	ChangedByUsername string `json:"changedByUsername,omitempty"`
	// changedAt is when the field was last changed, from the record's field history.
	// +optional
	ChangedAt *metav1.Time `json:"changedAt,omitempty"`
}

// License is the desired terms of one customer's license of a managed package: status, seats,
// expiration and feature parameters, driven into the LMO's sfLma__License__c record.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=lic,categories=licensing
// +kubebuilder:printcolumn:name="Customer",type=string,JSONPath=`.status.observed.customer`
// +kubebuilder:printcolumn:name="Subscriber",type=string,JSONPath=`.spec.subscriberOrgID`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.observed.status`
// +kubebuilder:printcolumn:name="Seats",type=string,JSONPath=`.status.observed.seats`
// +kubebuilder:printcolumn:name="Expiration",type=string,JSONPath=`.status.observed.expiration`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Drift",type=string,JSONPath=`.status.driftSummary`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type License struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired terms of the license.
	// +required
	Spec LicenseSpec `json:"spec"`
	// status is what the operator last saw of the license record.
	// Until the operator's first status write it reads as observedGeneration 0 (a default the API
	// server fills on every read), so Flux's kstatus sees a new object as InProgress, not Current.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status LicenseResourceStatus `json:"status,omitempty"`
}

// LicenseList is a list of Licenses.
// +kubebuilder:object:root=true
type LicenseList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []License `json:"items"`
}
