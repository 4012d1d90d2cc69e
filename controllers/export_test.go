package controllers

// The controllers' timings, for the specs of package controllers_test to wait on instead of
// declaring them again.

// SecretProblemRecheck is how soon a LicenseManagementOrg whose Secret is missing or broken looks again.
const SecretProblemRecheck = secretProblemRecheck
