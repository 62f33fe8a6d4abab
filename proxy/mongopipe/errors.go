package mongopipe

import "fmt"

// Error is a pipeline error with the MongoDB server error code a real server
// gives for the same fault, so the caller can answer a client the way
// MongoDB would (a command error with code and codeName).
type Error struct {
	Code     int32
	CodeName string
	Msg      string
}

func (e *Error) Error() string { return "mongopipe: " + e.Msg }

// MongoDB error codes used here (src/mongo/base/error_codes.yml and the
// assertion ids the server raises for the same conditions).
const (
	codeBadValue           = 2
	codeFailedToParse      = 9
	codeTypeMismatch       = 14
	codeInvalidOperator    = 168
	codeExceededMemory     = 146
	codeBSONObjectTooLarge = 10334
	codeUnknownStage       = 40324
	codeDivideByZero       = 16608
	codeModByZero          = 16610
	codeLocation16020      = 16020 // wrong number of arguments
	codeCannotConvert      = 241   // ConversionFailure
	codeLookupUnsupported  = 51047 // unsupported $lookup form
	codeIllegalUnwindField = 28808
)

var codeNames = map[int32]string{
	codeBadValue:           "BadValue",
	codeBSONObjectTooLarge: "BSONObjectTooLarge",
	codeFailedToParse:      "FailedToParse",
	codeTypeMismatch:       "TypeMismatch",
	codeInvalidOperator:    "InvalidPipelineOperator",
	codeExceededMemory:     "ExceededMemoryLimit",
	codeUnknownStage:       "Location40324",
	codeDivideByZero:       "Location16608",
	codeModByZero:          "Location16610",
	codeLocation16020:      "Location16020",
	codeCannotConvert:      "ConversionFailure",
	codeLookupUnsupported:  "Location51047",
	codeIllegalUnwindField: "Location28808",
}

// errf builds an *Error; a code without a name of its own is an assertion
// id, which the server reports as "Location<code>".
func errf(code int32, format string, args ...any) error {
	name, ok := codeNames[code]
	if !ok {
		name = fmt.Sprintf("Location%d", code)
	}
	return &Error{Code: code, CodeName: name, Msg: fmt.Sprintf(format, args...)}
}
