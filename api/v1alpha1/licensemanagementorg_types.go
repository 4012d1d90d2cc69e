package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LicenseManagementOrgSpec says how to reach one License Management Org (LMO): the Salesforce org that
// runs the License Management App.
// +kubebuilder:validation:XValidation:rule="!has(self.loginURL) || !has(self.auth.clientCredentials) || !isURL(self.loginURL) || !(url(self.loginURL).getHostname() in ['login.salesforce.com', 'test.salesforce.com'])",message="loginURL: the client credentials flow runs on the org's My Domain (https://<domain>.my.salesforce.com), not on login.salesforce.com or test.salesforce.com",fieldPath=".loginURL"
// +kubebuilder:validation:XValidation:rule="!has(self.loginURL) || isURL(self.loginURL) && (url(self.loginURL).getScheme() == 'https' || (url(self.loginURL).getScheme() == 'http' && url(self.loginURL).getHostname() in ['127.0.0.1', 'localhost', '::1']))",message="loginURL must be an https URL (plain http is allowed for loopback hosts only)",fieldPath=".loginURL"
type LicenseManagementOrgSpec struct {
	// instanceURL is the LMO's My Domain URL, for example https://acme.my.salesforce.com. It must use
	// https; plain http is accepted only for loopback hosts (127.0.0.1, localhost, ::1), such as lmosim.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (url(self).getScheme() == 'https' || (url(self).getScheme() == 'http' && url(self).getHostname() in ['127.0.0.1', 'localhost', '::1']))",message="instanceURL must be an https URL (plain http is allowed for loopback hosts only)"
	// +required
	InstanceURL string `json:"instanceURL"`

	// loginURL is the host of the OAuth token endpoint, for example https://login.salesforce.com or
	// https://test.salesforce.com. Defaults to instanceURL. The token endpoint is always
	// loginURL/services/oauth2/token.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	LoginURL string `json:"loginURL,omitempty"`

	// apiVersion is the Salesforce REST API version to call, for example "62.0".
	// +kubebuilder:validation:Pattern=`^[0-9]{2,3}\.0$`
	// +kubebuilder:validation:MaxLength=5
	// +kubebuilder:default="62.0"
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// auth says how the operator authenticates to the LMO: exactly one of jwtBearer or
	// clientCredentials.
	// +required
	Auth LMOAuth `json:"auth"`

	// pollInterval is how often the operator asks the LMO for records changed since the last poll:
	// one query per interval whatever the number of licenses. At least 10s.
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s')",message="pollInterval must be at least 10s"
	// +optional
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`

	// resyncInterval is how often the operator re-reads every record of the LMO. At least 5m.
	// +kubebuilder:default="6h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5m')",message="resyncInterval must be at least 5m"
	// +optional
	ResyncInterval *metav1.Duration `json:"resyncInterval,omitempty"`

	// apiBudget protects the org's shared daily API allocation.
	// +kubebuilder:default={reservePercent: 20}
	// +optional
	APIBudget *APIBudget `json:"apiBudget,omitempty"`

	// allowNonProductionOrg lets the operator write to a Developer Edition, trial or sandbox LMO. Such
	// an org expires and takes the license history with it, so writes to it are refused by default.
	// +optional
	AllowNonProductionOrg bool `json:"allowNonProductionOrg,omitempty"`
}

// LMOAuth holds exactly one way of authenticating to the LMO.
// +kubebuilder:validation:XValidation:rule="has(self.jwtBearer) != has(self.clientCredentials)",message="exactly one of auth.jwtBearer and auth.clientCredentials must be set"
type LMOAuth struct {
	// jwtBearer uses the OAuth 2.0 JWT bearer flow. The Secret holds the keys client-id (the connected
	// app's consumer key), username (the integration user) and private-key (PEM).
	// +optional
	JWTBearer *JWTBearerAuth `json:"jwtBearer,omitempty"`

	// clientCredentials uses the OAuth 2.0 client credentials flow. The Secret holds the keys client-id
	// and client-secret.
	// +optional
	ClientCredentials *SecretAuth `json:"clientCredentials,omitempty"`
}

// SecretAuth points at the Secret, in the LicenseManagementOrg's namespace, that holds credentials.
type SecretAuth struct {
	// secretRef names the Secret in the same namespace.
	// +required
	SecretRef LocalObjectReference `json:"secretRef"`
}

// JWTBearerAuth is the OAuth 2.0 JWT bearer flow: the Secret with its keys, and the assertion's
// audience.
type JWTBearerAuth struct {
	// secretRef names the Secret in the same namespace.
	// +required
	SecretRef LocalObjectReference `json:"secretRef"`

	// audience is the assertion's aud. Salesforce accepts https://login.salesforce.com for a
	// production org, https://test.salesforce.com for a sandbox, or the URL of one of the org's
	// Experience Cloud sites; a My Domain URL is refused. Empty means test.salesforce.com when
	// loginURL or instanceURL is a sandbox host (test.salesforce.com, *.sandbox.my.salesforce.com)
	// and login.salesforce.com otherwise. The token is requested from loginURL either way.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') && self.size() > 8",message="audience must be an https URL such as https://login.salesforce.com"
	// +optional
	Audience string `json:"audience,omitempty"`
}

// APIBudget keeps part of the org's daily API allocation for everyone else.
type APIBudget struct {
	// reservePercent is the share of the daily API limit the operator leaves untouched: when less than
	// this share remains, it slows polling and defers writes until the allocation recovers.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=90
	// +kubebuilder:default=20
	// +optional
	ReservePercent int32 `json:"reservePercent"`
}

// LicenseManagementOrgStatus is what the operator last saw of the LMO.
type LicenseManagementOrgStatus struct {
	// conditions: Ready, Authenticated, LMAInstalled, FMAInstalled and ProductionOrg.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// organization describes the LMO as Salesforce reports it.
	// +optional
	Organization *OrganizationStatus `json:"organization,omitempty"`

	// apiUsage is the org's daily API usage from the last response's Sforce-Limit-Info header.
	// +optional
	APIUsage *APIUsageStatus `json:"apiUsage,omitempty"`

	// mirror describes the operator's in-memory copy of the LMO's license records.
	// +optional
	Mirror *MirrorStatus `json:"mirror,omitempty"`

	// observedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// OrganizationStatus is the LMO's Organization record.
type OrganizationStatus struct {
	// id is the org's 18-character id (00D…).
	ID string `json:"id,omitempty"`
	// name is the org's name.
	Name string `json:"name,omitempty"`
	// edition is the org's OrganizationType, for example "Enterprise Edition" or "Developer Edition".
	Edition string `json:"edition,omitempty"`
	// isSandbox is true for a sandbox org.
	IsSandbox bool `json:"isSandbox,omitempty"`
	// trialExpiration is set for a trial org: the date it expires.
	// +optional
	TrialExpiration *metav1.Time `json:"trialExpiration,omitempty"`
}

// APIUsageStatus is the org's daily API usage.
type APIUsageStatus struct {
	// used is the number of API requests made in the last 24 hours.
	Used int64 `json:"used"`
	// max is the org's daily API request limit.
	Max int64 `json:"max"`
	// observedAt is when the figures were read.
	ObservedAt metav1.Time `json:"observedAt"`
	// perApp is the connected app's own daily allocation (per-app-api-usage), when the org set one.
	// The API budget follows whichever of the two has the smaller share left.
	// +optional
	PerApp *PerAppAPIUsageStatus `json:"perApp,omitempty"`
}

// PerAppAPIUsageStatus is a connected app's daily API usage against its own allocation.
type PerAppAPIUsageStatus struct {
	// appName is the connected app, as Salesforce names it in Sforce-Limit-Info.
	// +optional
	AppName string `json:"appName,omitempty"`
	// used is the number of the app's API requests in the last 24 hours.
	Used int64 `json:"used"`
	// max is the app's daily allocation.
	Max int64 `json:"max"`
}

// MirrorStatus describes the operator's copy of the LMO's records.
type MirrorStatus struct {
	// licenses is the number of license records in the mirror.
	Licenses int32 `json:"licenses"`
	// lastFullSync is when every record was last read.
	// +optional
	LastFullSync *metav1.Time `json:"lastFullSync,omitempty"`
	// lastIncrementalSync is when changed records were last polled.
	// +optional
	LastIncrementalSync *metav1.Time `json:"lastIncrementalSync,omitempty"`
}

// LicenseManagementOrg is how to reach one Salesforce License Management Org: its URL, credentials,
// polling intervals and API budget. ManagedPackages refer to it by name.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=lmo,categories=licensing
// +kubebuilder:printcolumn:name="Instance",type=string,JSONPath=`.spec.instanceURL`
// +kubebuilder:printcolumn:name="Org",type=string,JSONPath=`.status.organization.name`
// +kubebuilder:printcolumn:name="Licenses",type=integer,JSONPath=`.status.mirror.licenses`
// +kubebuilder:printcolumn:name="API Used",type=integer,JSONPath=`.status.apiUsage.used`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type LicenseManagementOrg struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says how to reach the LMO.
	// +required
	Spec LicenseManagementOrgSpec `json:"spec"`
	// status is what the operator last saw of the LMO.
	// Until the operator's first status write it reads as observedGeneration 0 (a default the API
	// server fills on every read), so Flux's kstatus sees a new object as InProgress, not Current.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status LicenseManagementOrgStatus `json:"status,omitempty"`
}

// LicenseManagementOrgList is a list of LicenseManagementOrgs.
// +kubebuilder:object:root=true
type LicenseManagementOrgList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LicenseManagementOrg `json:"items"`
}
