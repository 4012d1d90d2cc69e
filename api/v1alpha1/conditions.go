package v1alpha1

// Condition types. Ready, Reconciling and Stalled follow kstatus, so Flux and Argo CD read them.
const (
	// ConditionReady is True when the object is fully reconciled: for a License, every managed field
	// matches the LMO and the last sync succeeded.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is working toward the spec (kstatus); it is
	// absent otherwise.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the operator cannot make progress without a change by a person
	// (kstatus); the reason says what to do. It is absent otherwise.
	ConditionStalled = "Stalled"

	// ConditionAuthenticated is True when the operator holds a valid session for the LMO.
	ConditionAuthenticated = "Authenticated"
	// ConditionLMAInstalled is True when the License Management App's objects exist in the LMO.
	ConditionLMAInstalled = "LMAInstalled"
	// ConditionFMAInstalled is True when the Feature Management App's objects exist in the LMO.
	ConditionFMAInstalled = "FMAInstalled"
	// ConditionProductionOrg is True when the LMO is a permanent production org.
	ConditionProductionOrg = "ProductionOrg"

	// ConditionAssociated is True when the package's record exists in the LMO.
	ConditionAssociated = "Associated"
	// ConditionDefaultsMatch is True when every checked install got the package's defaults.
	ConditionDefaultsMatch = "DefaultsMatch"

	// ConditionDrifted is True when at least one managed field of the LMO record differs from the spec.
	ConditionDrifted = "Drifted"
	// ConditionSynced is True when the last attempt to read or write the LMO record succeeded.
	ConditionSynced = "Synced"
)

// Condition reasons. Each is CamelCase and says why a condition has its status.
const (
	// ReasonSynced: the LMO record matches the spec.
	ReasonSynced = "Synced"
	// ReasonReconciling: the operator is working toward the spec.
	ReasonReconciling = "Reconciling"
	// ReasonWriteQueued: a change is queued for the next write to the LMO.
	ReasonWriteQueued = "WriteQueued"
	// ReasonWriteFailed: the LMO refused or failed a write; the message has Salesforce's error.
	ReasonWriteFailed = "WriteFailed"
	// ReasonDrifted: the LMO record differs from the spec (Observe policy reports it only).
	ReasonDrifted = "Drifted"
	// ReasonNoDrift: the LMO record matches every managed field.
	ReasonNoDrift = "NoDrift"
	// ReasonObserving: the License is under the Observe policy.
	ReasonObserving = "Observing"

	// ReasonAwaitingInstall: no license record exists yet for the subscriber; the terms are applied
	// when the customer installs the package.
	ReasonAwaitingInstall = "AwaitingInstall"
	// ReasonAmbiguousLicense: several license records that are not Uninstalled match; pin licenseID.
	ReasonAmbiguousLicense = "AmbiguousLicense"
	// ReasonLicenseNotFound: the pinned licenseID does not exist in the LMO.
	ReasonLicenseNotFound = "LicenseNotFound"
	// ReasonUninstalled: the customer uninstalled the package; the record is never written again.
	ReasonUninstalled = "Uninstalled"
	// ReasonImpossibleTransition: the spec asks for a change Salesforce refuses (Active to Trial).
	ReasonImpossibleTransition = "ImpossibleTransition"
	// ReasonRecordRefusesEdits: the LMO refused the write for a reason retrying will not fix.
	ReasonRecordRefusesEdits = "RecordRefusesEdits"
	// ReasonAccessReductionHeld: the change would cut the customer's access now and is held until the
	// License's allow-access-reduction annotation names it (status.heldChange.approval).
	ReasonAccessReductionHeld = "AccessReductionHeld"
	// ReasonPaused: the License carries the paused annotation; nothing is written.
	ReasonPaused = "Paused"
	// ReasonInvalidSpec: the spec cannot be applied (for example a feature parameter the package does
	// not have); the message names the field.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonReadOnlyParameter: the spec sets a Subscriber-to-LMO feature parameter, which is read-only.
	ReasonReadOnlyParameter = "ReadOnlyParameter"
	// ReasonDuplicateLicense: another License names the same LMO record and owns it (the oldest
	// License that names a record owns it); this one writes nothing. The message names the owner.
	ReasonDuplicateLicense = "DuplicateLicense"
	// ReasonUnreadableRecord: the LMO record holds a value the operator cannot read (the message names
	// the field and the value); the record is never written until it is corrected in the LMO.
	ReasonUnreadableRecord = "UnreadableRecord"
	// ReasonNotEditable: the LMO record's License Type (sfLma__License_Type__c) marks it as one the
	// LMA does not let anyone modify, such as a license provisioned through AppExchange Checkout; it
	// is never written, and the message says who manages it.
	ReasonNotEditable = "NotEditable"
	// ReasonRecordTypeMismatch: the record's status matches the spec but its record type, the status
	// the LMA page shows, names another one.
	ReasonRecordTypeMismatch = "RecordTypeMismatch"
	// ReasonSubscriberOrgDeleted: the LMA records the customer's subscriber org as deleted or
	// pending deletion (sfLma__Org_Status__c); the record is never written, and the message says so.
	ReasonSubscriberOrgDeleted = "SubscriberOrgDeleted"

	// ReasonPackageNotFound: the referenced ManagedPackage does not exist.
	ReasonPackageNotFound = "PackageNotFound"
	// ReasonLMONotFound: the referenced LicenseManagementOrg does not exist.
	ReasonLMONotFound = "LMONotFound"
	// ReasonLMONotReady: the LicenseManagementOrg is not ready; its own conditions say why.
	ReasonLMONotReady = "LMONotReady"
	// ReasonMirrorLoading: the operator is still reading the LMO's records.
	ReasonMirrorLoading = "MirrorLoading"
	// ReasonNotAssociated: the package's record is not in the LMO.
	ReasonNotAssociated = "NotAssociated"
	// ReasonAssociated: the package's record is in the LMO.
	ReasonAssociated = "Associated"
	// ReasonDefaultsMatch: every checked install got the defaults.
	ReasonDefaultsMatch = "DefaultsMatch"
	// ReasonDefaultsMismatch: some installs did not get the defaults.
	ReasonDefaultsMismatch = "DefaultsMismatch"
	// ReasonNoDefaults: the package declares no defaults.
	ReasonNoDefaults = "NoDefaults"

	// ReasonAuthenticated: the operator holds a valid session.
	ReasonAuthenticated = "Authenticated"
	// ReasonSecretNotFound: the credentials Secret does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretInvalid: the credentials Secret lacks a key or holds a malformed value.
	ReasonSecretInvalid = "SecretInvalid"
	// ReasonAuthenticationFailed: Salesforce refused the credentials.
	ReasonAuthenticationFailed = "AuthenticationFailed"
	// ReasonUnreachable: the LMO did not answer.
	ReasonUnreachable = "Unreachable"
	// ReasonInvalidResponse: the LMO answered with something the operator cannot use (malformed or
	// hostile data, an untrusted certificate); nothing is written on the strength of it.
	ReasonInvalidResponse = "InvalidResponse"
	// ReasonInstalled: the app's objects exist in the LMO.
	ReasonInstalled = "Installed"
	// ReasonNotInstalled: the app's objects do not exist in the LMO.
	ReasonNotInstalled = "NotInstalled"
	// ReasonProduction: the LMO is a production org.
	ReasonProduction = "Production"
	// ReasonNonProductionOrg: the LMO is a Developer Edition, trial or sandbox org.
	ReasonNonProductionOrg = "NonProductionOrg"
	// ReasonNonProductionAllowed: the LMO is not a production org, and spec.allowNonProductionOrg
	// allows writes anyway.
	ReasonNonProductionAllowed = "NonProductionAllowed"
	// ReasonAPIBudgetLow: less than spec.apiBudget.reservePercent of the daily API limit remains;
	// writes are deferred and polling slowed.
	ReasonAPIBudgetLow = "APIBudgetLow"
	// ReasonAPILimitExceeded: Salesforce answers REQUEST_LIMIT_EXCEEDED; the operator backs off.
	ReasonAPILimitExceeded = "APILimitExceeded"
	// ReasonHostNotAllowed: instanceURL or loginURL names a host that is not Salesforce's (nor one the
	// cluster admin allowed); the operator sends no credentials there.
	ReasonHostNotAllowed = "HostNotAllowed"
	// ReasonConcurrentRequestLimit: Salesforce refuses more concurrent long-running requests
	// (REQUEST_LIMIT_EXCEEDED, ConcurrentRequests); the operator retries in seconds.
	ReasonConcurrentRequestLimit = "ConcurrentRequestLimit"
	// ReasonReady: the object is fully reconciled.
	ReasonReady = "Ready"
)

// Event reasons on Licenses that are not condition reasons. Each is given once per occasion, so a
// chat channel that routes them (see the README) hears of each once.
const (
	// ReasonTrialExpiring: a Trial license entered the 30-day or the 7-day window before its
	// expiration (Normal for 30 days, Warning for 7).
	ReasonTrialExpiring = "TrialExpiring"
	// ReasonTrialLapsed: a Trial license passed its expiration without converting (Warning).
	ReasonTrialLapsed = "TrialLapsed"
	// ReasonRenewalDue: an expiring Active (paid) license entered the 30-day or the 7-day window
	// before its expiration (Normal for 30 days, Warning for 7).
	ReasonRenewalDue = "RenewalDue"
	// ReasonLicenseLapsed: an Active (paid) license passed its expiration without a renewal (Warning).
	ReasonLicenseLapsed = "LicenseLapsed"
	// ReasonDriftCorrected: a write put back managed fields a person had changed in the LMO; the
	// Event names each field, who changed it and when, and the value put back.
	ReasonDriftCorrected = "DriftCorrected"
	// ReasonLicenseWritten: a write set the record's fields to the spec.
	ReasonLicenseWritten = "LicenseWritten"
)

// Annotations users set on Licenses.
const (
	// AnnotationAllowAccessReduction approves one change that cuts a customer's access now: its value
	// is the name the operator gives that change (status.heldChange.approval, lmoctl plan). Left on,
	// it approves no later change; "true" approves nothing.
	AnnotationAllowAccessReduction = "licensing.lmo-operator.dev/allow-access-reduction"
	// AnnotationPaused stops writes for the License; deletion is never blocked.
	AnnotationPaused = "licensing.lmo-operator.dev/paused"
	// AnnotationCustomer records the customer's name (the account, else the lead's company) on a
	// License, as lmoctl import found it: for people reading git, and for lmoctl plan before the
	// record is read. The operator reads the current name from the LMO into status.observed.customer.
	AnnotationCustomer = "licensing.lmo-operator.dev/customer"
)

// Annotations users set on ManagedPackages.
const (
	// AnnotationAllowDefaultsBeforeCreation approves a spec.defaultsEffectiveFrom earlier than the
	// ManagedPackage's creation, which lets defaults be set on installs made before the package was
	// declared. Without it such installs are left alone.
	AnnotationAllowDefaultsBeforeCreation = "licensing.lmo-operator.dev/allow-defaults-before-creation"
)

// FinalizerLicense is set on Licenses whose deletion must suspend the LMO record.
const FinalizerLicense = "licensing.lmo-operator.dev/deletion-policy"
