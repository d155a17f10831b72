package notify

import (
	"fmt"
	"strconv"
	"time"

	"github.com/seatflow/seatflow/events"
)

// KindPoolForecast is the notification to global admins that a product's
// forecast run-out date came within the warning horizon.
const KindPoolForecast = "pool.forecast"

// ForesightRules are the forecast alerts: PoolForecastWarned becomes
// pool.forecast to every global admin. The event is recorded once per
// approach (until the run-out date moves back out), so the alert is sent
// once.
func ForesightRules() Rules {
	return Rules{events.TypePoolForecastWarned: poolForecast}
}

func poolForecast(l Lookup, env events.Envelope) ([]Draft, error) {
	e := env.Data.(events.PoolForecastWarned)
	product := l.ProductName(env.Tenant, e.ProductID)
	date := e.RunOutAt.UTC().Format(time.DateOnly)
	subject := fmt.Sprintf("%s runs out around %s (in %s)", product, date, days(e.DaysLeft))
	text := fmt.Sprintf("At the pace of recent claims (%s a day over the last 7 days, %s over the last 30), the free licenses of %s will run out around %s, in %s: %d available",
		num(e.ClaimsPerDay7), num(e.ClaimsPerDay30), product, date, days(e.DaysLeft), e.Available)
	if e.Queued > 0 {
		text += fmt.Sprintf(", %d %s waiting for one", e.Queued, plural(e.Queued, "user", "users"))
	}
	text += ".\n"
	if e.DaysLeft == 0 {
		subject = product + " has run out"
		if e.Queued > 0 {
			subject += fmt.Sprintf(" (%d waiting)", e.Queued)
		}
		text = fmt.Sprintf("%s has no license left for the users waiting for one: %d available, %d %s waiting; claims run at %s a day over the last 7 days, %s over the last 30.\n",
			product, e.Available, e.Queued, plural(e.Queued, "user", "users"), num(e.ClaimsPerDay7), num(e.ClaimsPerDay30))
	}
	if e.BuyToCover30Days > 0 {
		text += fmt.Sprintf("\nBuy %d %s of %s to cover the next 30 days at this pace.\n", e.BuyToCover30Days,
			plural(e.BuyToCover30Days, "license", "licenses"), product)
	} else {
		text += "\nThe licenses left cover the next 30 days at this pace.\n"
	}
	text += fmt.Sprintf("\nThis forecast is sent once when the run-out date comes within %s; it is sent again only after the date moves back out, "+
		"for example after a purchase.\n", days(e.HorizonDays))
	var out []Draft
	for _, u := range globalAdmins(l, env.Tenant) {
		out = append(out, Draft{UserID: u, Kind: KindPoolForecast, Subject: subject, Text: text, Refs: Refs{ProductID: e.ProductID}})
	}
	return out, nil
}

// num writes a rate without trailing zeros: 1, 0.5, 1.43.
func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func days(x float64) string {
	if x == 1 {
		return "1 day"
	}
	return num(x) + " days"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
