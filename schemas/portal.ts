import { Type } from '@sinclair/typebox'

// The portal's form bodies (application/x-www-form-urlencoded, so every field is a string).
// Fields are optional here so that an empty or partial form gets the sign-in page's own message.

const CsrfField = Type.String({ maxLength: 128 })

export const LoginForm = Type.Object({
  email: Type.Optional(Type.String({ maxLength: 320 })),
  password: Type.Optional(Type.String({ maxLength: 1024 })),
  _csrf: Type.Optional(CsrfField)
})

export const LogoutForm = Type.Object({
  _csrf: Type.Optional(CsrfField)
})

export const LoginQuery = Type.Object({
  // anything else is ignored rather than refused: this is a link, not an API
  signed_out: Type.Optional(Type.String({ maxLength: 8 }))
})
