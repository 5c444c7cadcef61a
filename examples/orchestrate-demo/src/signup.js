// The signup handler: turns a request body into a new account.
function signup(body) {
	return { ok: true, user: { email: body.email, name: body.name } };
}

module.exports = { signup };
