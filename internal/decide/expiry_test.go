package decide

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	licensingv1alpha1 "github.com/lmo-operator/lmo-operator/api/v1alpha1"
)

func day(s string, hour int) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d.Add(time.Duration(hour) * time.Hour)
}

func TestExpiryOf(t *testing.T) {
	cases := []struct {
		name       string
		status     string
		expiration string
		now        time.Time
		want       Expiry
	}{
		{"a trial 31 days from its end is in no window and is looked at again when 30 days remain",
			"Trial", "2026-12-31", day("2026-11-30", 15),
			Expiry{Term: ExpiryTrial, Window: WindowNone, DaysLeft: 31, Next: day("2026-12-01", 0)}},
		{"a trial 30 days from its end enters the 30-day window",
			"Trial", "2026-12-31", day("2026-12-01", 0),
			Expiry{Term: ExpiryTrial, Window: Window30, DaysLeft: 30, Next: day("2026-12-24", 0)}},
		{"a trial 8 days from its end is still in the 30-day window",
			"Trial", "2026-12-31", day("2026-12-23", 23),
			Expiry{Term: ExpiryTrial, Window: Window30, DaysLeft: 8, Next: day("2026-12-24", 0)}},
		{"a trial 7 days from its end enters the 7-day window and is looked at again the day after its last day",
			"Trial", "2026-12-31", day("2026-12-24", 0),
			Expiry{Term: ExpiryTrial, Window: Window7, DaysLeft: 7, Next: day("2027-01-01", 0)}},
		{"a trial on its last day is in the 7-day window",
			"Trial", "2026-12-31", day("2026-12-31", 23),
			Expiry{Term: ExpiryTrial, Window: Window7, DaysLeft: 0, Next: day("2027-01-01", 0)}},
		{"a trial the day after its last day has lapsed",
			"Trial", "2026-12-31", day("2027-01-01", 0),
			Expiry{Term: ExpiryTrial, Window: WindowLapsed, DaysLeft: -1}},
		{"a trial that lapsed 30 days ago is still reported as lapsed",
			"Trial", "2026-12-31", day("2027-01-30", 12),
			Expiry{Term: ExpiryTrial, Window: WindowLapsed, DaysLeft: -30}},
		{"a trial that lapsed more than 30 days ago is old news: no window, nothing to look at again",
			"Trial", "2026-12-31", day("2027-01-31", 0),
			Expiry{Term: ExpiryTrial, Window: WindowNone, DaysLeft: -31}},
		{"a paid license 6 days from its end is in the 7-day window of its renewal",
			"Active", "2027-06-30", day("2027-06-24", 9),
			Expiry{Term: ExpiryPaid, Window: Window7, DaysLeft: 6, Next: day("2027-07-01", 0)}},
		{"a paid license a year from its end is looked at again when 30 days remain",
			"Active", "2027-06-30", day("2026-06-30", 9),
			Expiry{Term: ExpiryPaid, Window: WindowNone, DaysLeft: 365, Next: day("2027-05-31", 0)}},
		{"a license that does not expire has no window",
			"Active", "Never", day("2026-11-30", 0), Expiry{}},
		{"a suspended license has no window",
			"Suspended", "2026-12-05", day("2026-11-30", 0), Expiry{}},
		{"an uninstalled license has no window",
			"Uninstalled", "2026-12-05", day("2026-11-30", 0), Expiry{}},
		{"an unreadable expiration has no window",
			"Trial", "", day("2026-11-30", 0), Expiry{}},
		{"the clock's zone does not move the day: 23:30 in UTC-5 is the next day in UTC",
			"Trial", "2026-12-31", time.Date(2026, 12, 23, 23, 30, 0, 0, time.FixedZone("EST", -5*3600)),
			Expiry{Term: ExpiryTrial, Window: Window7, DaysLeft: 7, Next: day("2027-01-01", 0)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, ExpiryOf(c.status, c.expiration, c.now)); diff != "" {
				t.Errorf("ExpiryOf(%s, %s, %s) (-want +got):\n%s", c.status, c.expiration, c.now, diff)
			}
		})
	}
}

func TestNoticeDue(t *testing.T) {
	trial7 := Expiry{Term: ExpiryTrial, Window: Window7, DaysLeft: 6}
	cases := []struct {
		name string
		now  Expiry
		exp  string
		last *licensingv1alpha1.ExpiryNotice
		want bool
	}{
		{"a license in no window gets no notice", Expiry{Term: ExpiryTrial, Window: WindowNone}, "2026-12-31", nil, false},
		{"the first notice of a window is given", trial7, "2026-12-31", nil, true},
		{"a notice already given for this window and term is not given again", trial7, "2026-12-31",
			&licensingv1alpha1.ExpiryNotice{Term: ExpiryTrial, Expiration: "2026-12-31", Window: Window7}, false},
		{"the 7-day notice follows the 30-day one", trial7, "2026-12-31",
			&licensingv1alpha1.ExpiryNotice{Term: ExpiryTrial, Expiration: "2026-12-31", Window: Window30}, true},
		{"a window behind the one given is not given (a clock or a reading going back)",
			Expiry{Term: ExpiryTrial, Window: Window30}, "2026-12-31",
			&licensingv1alpha1.ExpiryNotice{Term: ExpiryTrial, Expiration: "2026-12-31", Window: Window7}, false},
		{"a lapse follows the 7-day notice", Expiry{Term: ExpiryTrial, Window: WindowLapsed}, "2026-12-31",
			&licensingv1alpha1.ExpiryNotice{Term: ExpiryTrial, Expiration: "2026-12-31", Window: Window7}, true},
		{"a renewed term (a new expiration) starts its notices again", Expiry{Term: ExpiryPaid, Window: Window30}, "2027-12-31",
			&licensingv1alpha1.ExpiryNotice{Term: ExpiryPaid, Expiration: "2026-12-31", Window: WindowLapsed}, true},
		{"a trial converted to paid on the same date starts the paid notices", Expiry{Term: ExpiryPaid, Window: Window7}, "2026-12-31",
			&licensingv1alpha1.ExpiryNotice{Term: ExpiryTrial, Expiration: "2026-12-31", Window: Window7}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := NoticeDue(c.now, c.exp, c.last); got != c.want {
				t.Errorf("NoticeDue = %t, want %t", got, c.want)
			}
		})
	}
}
