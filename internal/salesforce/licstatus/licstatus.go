// Package licstatus names the statuses of an LMA License record (sfLma__Status__c) and its record
// types, in one place for every layer: the Salesforce client, the engine, the decision packages, the
// controllers, lmoctl. It imports nothing, so the controllers and the decision packages use it
// without the Salesforce client. The License resource's own enum is licensingv1alpha1.LicenseStatus.
package licstatus

// The License status picklist's values.
const (
	Trial       = "Trial"
	Active      = "Active"
	Suspended   = "Suspended"
	Uninstalled = "Uninstalled"
)

// Expired is no status: it is the record type (the status the LMA page shows) of a license that is
// not Uninstalled and whose expiration has passed. The LMA's record types are the four statuses and Expired.
const Expired = "Expired"
