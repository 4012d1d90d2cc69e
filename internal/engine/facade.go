package engine

import (
	"net/url"

	"github.com/lmo-operator/lmo-operator/internal/drift"
	"github.com/lmo-operator/lmo-operator/internal/salesforce"
)

// What controllers and metrics need of the Salesforce client, named by the engine: only the engine
// (and lmoctl) import internal/salesforce, so the client's types can change behind it.

// ErrorClass says what a failed call calls for (Status.ErrorClass).
type ErrorClass = salesforce.ErrorClass

// The error classes controllers tell apart.
const (
	ErrorAuth      = salesforce.Auth
	ErrorRetryable = salesforce.Retryable
)

// The data types of feature parameters (ParamValue.DataType).
const (
	DataTypeBoolean = salesforce.DataTypeBoolean
	DataTypeInteger = salesforce.DataTypeInteger
	DataTypeDate    = salesforce.DataTypeDate
)

// CallInfo describes one Salesforce call, for metrics (Config.OnCall).
type CallInfo = salesforce.CallInfo

// ErrorClassOf classifies an error of a Salesforce call.
func ErrorClassOf(err error) ErrorClass { return salesforce.ClassOf(err) }

// JWTBearer and ClientCredentials are the two ways of signing in (Credentials).
type (
	JWTBearer         = salesforce.JWTBearer
	ClientCredentials = salesforce.ClientCredentials
)

// CheckEndpoint checks a LicenseManagementOrg's instance or login URL: its host must be Salesforce's
// or one the cluster admin allowed (allowedHosts), and its scheme https, or plain http to a loopback
// host when insecureLoopback allows it. Credentials are sent to no other endpoint.
func CheckEndpoint(rawURL string, allowedHosts []string, insecureLoopback bool) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if err := salesforce.CheckHost(u.Hostname(), allowedHosts); err != nil {
		return err
	}
	return salesforce.CheckScheme(rawURL, insecureLoopback)
}

// licenseFields are the License record's field API names behind drift's term fields.
var licenseFields = map[drift.Field]string{
	drift.Status:     salesforce.FieldStatus,
	drift.Seats:      salesforce.FieldSeats,
	drift.Expiration: salesforce.FieldExpiration,
}

// ForDrift returns the last change of the record field behind a drift term field (status, seats,
// expiration); false for feature parameters.
func (c FieldChanges) ForDrift(field drift.Field) (FieldChange, bool) {
	api, ok := licenseFields[field]
	if !ok {
		return FieldChange{}, false
	}
	return c.Lookup(api)
}
