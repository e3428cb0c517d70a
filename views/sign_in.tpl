% rebase('base', title='Sign in')
<h1>Sign in</h1>
<p>Changing songs needs one of this service's API tokens (its <code>API_TOKEN</code> setting).</p>
<form method="post" action="/sign-in" class="song">
  <input type="hidden" name="csrf_token" value="{{csrf()}}">
  <input type="hidden" name="next" value="{{next}}">
  <div class="field{{' invalid' if error else ''}}">
    <label for="token">API token</label>
    <input id="token" name="token" type="password" required autocomplete="current-password"{{!' aria-invalid="true" aria-describedby="token-error"' if error else ''}}>
% if error:
    <p class="error" id="token-error">{{error}}</p>
% end
  </div>
  <button type="submit">Sign in</button>
</form>
