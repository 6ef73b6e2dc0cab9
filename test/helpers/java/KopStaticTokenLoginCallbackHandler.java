import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;

import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerTokenCallback;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * SASL/OAUTHBEARER login callback handler that hands the Kafka client a fixed,
 * already issued JWT (for example a Pulsar token) instead of fetching one.
 *
 * Configure with
 *   sasl.login.callback.handler.class=KopStaticTokenLoginCallbackHandler
 *   sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required token="eyJ...";
 *
 * The token is not validated. Its principal is the JWT "sub" claim (or the
 * JAAS option "principal"); its lifetime is "exp" (or one hour from now).
 */
public class KopStaticTokenLoginCallbackHandler implements AuthenticateCallbackHandler {
    private String token;
    private String principal;
    private long startMs;
    private long lifetimeMs;

    @Override
    public void configure(Map<String, ?> configs, String saslMechanism, List<AppConfigurationEntry> jaasConfigEntries) {
        if (jaasConfigEntries == null || jaasConfigEntries.size() != 1) {
            throw new IllegalArgumentException("expected exactly one JAAS login module entry");
        }
        Map<String, ?> options = jaasConfigEntries.get(0).getOptions();
        Object t = options.get("token");
        if (!(t instanceof String) || ((String) t).isEmpty()) {
            throw new IllegalArgumentException("JAAS option token=\"<jwt>\" is required");
        }
        token = (String) t;
        long now = System.currentTimeMillis();
        startMs = now;
        lifetimeMs = now + 3_600_000L;
        principal = null;
        JsonNode claims = decodeClaims(token);
        if (claims != null) {
            if (claims.hasNonNull("sub")) principal = claims.get("sub").asText();
            if (claims.hasNonNull("exp") && claims.get("exp").canConvertToLong()) {
                lifetimeMs = claims.get("exp").asLong() * 1000L;
            }
            if (claims.hasNonNull("iat") && claims.get("iat").canConvertToLong()) {
                startMs = claims.get("iat").asLong() * 1000L;
            }
        }
        Object p = options.get("principal");
        if (p instanceof String && !((String) p).isEmpty()) principal = (String) p;
        if (principal == null) principal = "unknown";
    }

    private static JsonNode decodeClaims(String jwt) {
        String[] parts = jwt.split("\\.");
        if (parts.length < 2) return null;
        try {
            byte[] json = Base64.getUrlDecoder().decode(parts[1]);
            return new ObjectMapper().readTree(new String(json, StandardCharsets.UTF_8));
        } catch (Exception e) {
            return null;
        }
    }

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback cb : callbacks) {
            if (cb instanceof OAuthBearerTokenCallback) {
                final String value = token;
                final String name = principal;
                final long start = startMs;
                final long lifetime = lifetimeMs;
                ((OAuthBearerTokenCallback) cb).token(new OAuthBearerToken() {
                    @Override public String value() { return value; }
                    @Override public Set<String> scope() { return Collections.emptySet(); }
                    @Override public long lifetimeMs() { return lifetime; }
                    @Override public String principalName() { return name; }
                    @Override public Long startTimeMs() { return start; }
                });
            } else {
                // SaslExtensionsCallback etc.: the login module treats this as "none".
                throw new UnsupportedCallbackException(cb);
            }
        }
    }

    @Override
    public void close() {
    }
}
