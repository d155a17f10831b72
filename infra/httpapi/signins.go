package httpapi

import (
	"errors"
	"net/http"

	"github.com/seatflow/seatflow/domain"
	"github.com/seatflow/seatflow/infra/auth"
)

type signInBody struct {
	ID          *string `json:"id"`
	UserID      *string `json:"user_id"`
	App         *string `json:"app"`
	At          *string `json:"at"`
	Email       *string `json:"email"`
	DisplayName *string `json:"display_name"`
}

// SignInState answers POST /v1/signins: what the sign-in did.
type SignInState struct {
	domain.ClaimOutcome
	Position uint64 `json:"position"`
}

// POST /v1/signins (role ingest): the payload of sf.signin.<tenant>, for
// the token's tenant, handled as the NATS edge handles it (serve hands it
// to the partition that owns the tenant, through the sign-in stream); a
// payload the edge would dead-letter is answered 400.
func (s *Server) postSignIn(w http.ResponseWriter, r *http.Request, c auth.Claims) error {
	var b signInBody
	if err := decode(w, r, &b); err != nil {
		return err
	}
	p := domain.SignInMessage{Email: b.Email, DisplayName: b.DisplayName}
	if b.ID != nil {
		p.ID = *b.ID
	}
	if b.UserID != nil {
		p.UserID = *b.UserID
	}
	if b.App != nil {
		p.App = *b.App
	}
	if b.At != nil {
		if err := p.At.UnmarshalText([]byte(*b.At)); err != nil {
			return invalidField("at", "must be an RFC 3339 time")
		}
	}
	if err := p.Validate(); err != nil {
		return signInProblem(err)
	}
	out, res, err := s.cfg.AutoClaim.SignIns.Handle(r.Context(), c.Tenant, p)
	if err != nil {
		return signInProblem(err)
	}
	return writePositioned(w, http.StatusOK, res.Position, SignInState{ClaimOutcome: out, Position: res.Position})
}

func signInProblem(err error) error {
	var rej *domain.SignInRejectedError
	switch {
	case errors.As(err, &rej):
		return invalidField(rej.Reason, rej.Detail)
	case errors.Is(err, domain.ErrOutcomeUnknown):
		return &apiError{code: CodeOutcomeUnknown, cause: err, detail: "the sign-in is stored and will be handled in its turn, " +
			"but what it did was not known in time; post it again with the same id to learn it: it is handled once"}
	}
	return err
}
