# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Applies the typed operations planned by the mailrelay.smtp Exchange modules, then
# reads the objects back (same read as exchange_read.ps1) in the same round trip.
# Fixed text: operations are data checked against the table below; each one calls one
# Exchange cmdlet with named parameters only. Never called in check mode.
param(
    [ValidateSet('local', 'remote')]
    [string]$Session = 'local',
    [string]$ConnectionUri = '',
    [ValidateSet('Kerberos', 'Negotiate', 'Default')]
    [string]$Authentication = 'Kerberos',
    [string]$Username = '',
    [securestring]$SessionPassword,
    [string]$Server = '',
    [string]$ReceiveConnector = '',
    [bool]$AllReceiveConnectors = $false,
    [bool]$IncludePermissions = $false,
    [string]$SendConnector = '',
    [bool]$AllSendConnectors = $false,
    [bool]$TransportService = $false,
    [bool]$AcceptedDomains = $false,
    [string[]]$Principals = @(),
    [object[]]$Operations = @(),
    [securestring]$SmartHostPassword
)

$ErrorActionPreference = 'Stop'
$NeededCommands = @(
    'Get-ReceiveConnector', 'New-ReceiveConnector', 'Set-ReceiveConnector', 'Remove-ReceiveConnector',
    'Get-ADPermission', 'Add-ADPermission', 'Remove-ADPermission',
    'Get-SendConnector', 'New-SendConnector', 'Set-SendConnector', 'Remove-SendConnector',
    'Get-TransportService', 'Set-TransportService',
    'Get-AcceptedDomain', 'New-AcceptedDomain', 'Set-AcceptedDomain', 'Remove-AcceptedDomain'
)

#region shared session (identical in exchange_read.ps1 and exchange_apply.ps1)
function Stop-Payload([string]$Code, [string]$Text) {
    throw ('MAILRELAY:{0}: {1}' -f $Code, $Text)
}

function Get-FailureCode($ErrorRecord) {
    $text = '{0} {1} {2}' -f $ErrorRecord.CategoryInfo.Reason, $ErrorRecord.FullyQualifiedErrorId, $ErrorRecord.Exception.Message
    if ($text -match 'ManagementObjectNotFound|couldn''t be found|could not be found') {
        return 'not_found'
    }
    if ($text -match 'AccessDenied|UnauthorizedAccess|Access is denied|InsufficientAccessRights') {
        return 'access_denied'
    }
    return 'exchange_error'
}

function Invoke-Exchange([string]$Command, [hashtable]$Arguments) {
    try {
        return & $Command @Arguments
    }
    catch {
        Stop-Payload (Get-FailureCode $_) ('{0}: {1}' -f $Command, $_.Exception.Message)
    }
}

$RemoteSession = $null
if ($Session -eq 'local') {
    if (-not (Get-Command -Name 'Get-ReceiveConnector' -ErrorAction SilentlyContinue)) {
        try {
            Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' -ErrorAction Stop
        }
        catch {
            Stop-Payload 'snapin_missing' $_.Exception.Message
        }
    }
}
else {
    $uri = $ConnectionUri
    if (-not $uri) {
        $uri = 'http://{0}/PowerShell/' -f [System.Net.Dns]::GetHostEntry([System.Environment]::MachineName).HostName
    }
    $sessionOptions = @{
        ConfigurationName = 'Microsoft.Exchange'
        ConnectionUri = $uri
        Authentication = $Authentication
        ErrorAction = 'Stop'
    }
    if ($Username) {
        # Explicit credentials: the payload's connection to Exchange is a second hop.
        $sessionOptions.Credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $Username, $SessionPassword
    }
    try {
        $RemoteSession = New-PSSession @sessionOptions
    }
    catch {
        $reason = $_.Exception.Message
        if ($reason -match 'Access is denied|AccessDenied|401|unauthorized') {
            Stop-Payload 'access_denied' ('{0}: {1}' -f $uri, $reason)
        }
        Stop-Payload 'endpoint_unreachable' ('{0}: {1}' -f $uri, $reason)
    }
    # The endpoint runs in NoLanguage mode: import its cmdlets as local proxies and call them one
    # by one with parameters; no script block ever runs in the remote session.
    try {
        $null = Import-PSSession -Session $RemoteSession -CommandName $NeededCommands -DisableNameChecking -AllowClobber -ErrorAction Stop
    }
    catch {
        Remove-PSSession -Session $RemoteSession -WhatIf:$false
        Stop-Payload 'endpoint_unreachable' ('{0}: {1}' -f $uri, $_.Exception.Message)
    }
}
$missing = @($NeededCommands | Where-Object { -not (Get-Command -Name $_ -ErrorAction SilentlyContinue) })
if ($missing.Count -gt 0) {
    if ($null -ne $RemoteSession) {
        Remove-PSSession -Session $RemoteSession -WhatIf:$false
    }
    Stop-Payload 'access_denied' ('this account may not run {0} (Exchange role based access control)' -f ($missing -join ', '))
}
#endregion

#region shared read (identical in exchange_read.ps1 and exchange_apply.ps1)
function ConvertTo-TextList($Value) {
    return , @($Value | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_ })
}

function Get-PrincipalSid($User) {
    if ($null -eq $User) {
        return $null
    }
    # SecurityPrincipalIdParameter carries the SID; a name is translated on this host.
    $sid = $User.SecurityIdentifier
    if ($sid) {
        return [string]$sid
    }
    try {
        return ([System.Security.Principal.NTAccount][string]$User).Translate([System.Security.Principal.SecurityIdentifier]).Value
    }
    catch {
        return $null
    }
}

function Read-Permission([string]$DistinguishedName) {
    foreach ($entry in @(Invoke-Exchange 'Get-ADPermission' @{ Identity = $DistinguishedName })) {
        $rights = ConvertTo-TextList $entry.ExtendedRights
        if ($rights.Count -eq 0) {
            continue
        }
        [ordered]@{
            user = [string]$entry.User
            sid = Get-PrincipalSid $entry.User
            extended_rights = $rights
            access_rights = [string]$entry.AccessRights
            deny = [bool]$entry.Deny
            inherited = [bool]$entry.IsInherited
        }
    }
}

function Read-ReceiveConnector($Connector, [bool]$WithPermission) {
    $view = [ordered]@{
        identity = [string]$Connector.Identity
        name = [string]$Connector.Name
        server = [string]$Connector.Server
        transport_role = [string]$Connector.TransportRole
        bindings = ConvertTo-TextList $Connector.Bindings
        remote_ip_ranges = ConvertTo-TextList $Connector.RemoteIPRanges
        permission_groups = [string]$Connector.PermissionGroups
        auth_mechanism = [string]$Connector.AuthMechanism
        require_tls = [bool]$Connector.RequireTLS
        fqdn = [string]$Connector.Fqdn
        max_message_size = [string]$Connector.MaxMessageSize
        enabled = [bool]$Connector.Enabled
        distinguished_name = [string]$Connector.DistinguishedName
        permissions = @()
    }
    if ($WithPermission) {
        $view.permissions = @(Read-Permission $view.distinguished_name)
    }
    return $view
}

function Read-SendConnector($Connector) {
    $username = ''
    if ($null -ne $Connector.AuthenticationCredential) {
        $username = [string]$Connector.AuthenticationCredential.UserName
    }
    return [ordered]@{
        name = [string]$Connector.Name
        address_spaces = ConvertTo-TextList $Connector.AddressSpaces
        dns_routing_enabled = [bool]$Connector.DNSRoutingEnabled
        smart_hosts = ConvertTo-TextList $Connector.SmartHosts
        port = [int]$Connector.Port
        require_tls = [bool]$Connector.RequireTLS
        ignore_starttls = [bool]$Connector.IgnoreSTARTTLS
        tls_auth_level = [string]$Connector.TlsAuthLevel
        tls_domain = [string]$Connector.TlsDomain
        smarthost_auth_mechanism = [string]$Connector.SmartHostAuthMechanism
        username = $username
        use_external_dns_servers_enabled = [bool]$Connector.UseExternalDNSServersEnabled
        source_transport_servers = ConvertTo-TextList $Connector.SourceTransportServers
        max_message_size = [string]$Connector.MaxMessageSize
        fqdn = [string]$Connector.Fqdn
        enabled = [bool]$Connector.Enabled
    }
}

function Read-TransportService($Service) {
    return [ordered]@{
        identity = [string]$Service.Identity
        external_dns_servers = ConvertTo-TextList $Service.ExternalDNSServers
        external_dns_adapter_enabled = [bool]$Service.ExternalDNSAdapterEnabled
        external_dns_protocol_option = [string]$Service.ExternalDNSProtocolOption
        internal_dns_servers = ConvertTo-TextList $Service.InternalDNSServers
        internal_dns_adapter_enabled = [bool]$Service.InternalDNSAdapterEnabled
        internal_dns_protocol_option = [string]$Service.InternalDNSProtocolOption
    }
}

function Read-AcceptedDomain($Domain) {
    return [ordered]@{
        name = [string]$Domain.Name
        domain_name = [string]$Domain.DomainName
        domain_type = [string]$Domain.DomainType
        default = [bool]$Domain.Default
        match_subdomains = [bool]$Domain.MatchSubDomains
    }
}

function Read-ExchangeState {
    $state = [ordered]@{}
    if ($ReceiveConnector -or $AllReceiveConnectors) {
        $found = @(Invoke-Exchange 'Get-ReceiveConnector' @{ Server = $Server })
        if (-not $AllReceiveConnectors) {
            # The exact name on this server: never a wildcard or a substring match.
            $found = @($found | Where-Object { [string]$_.Name -eq $ReceiveConnector })
        }
        $withPermission = $IncludePermissions -or -not $AllReceiveConnectors
        $state.receive_connectors = @($found | ForEach-Object { Read-ReceiveConnector $_ $withPermission })
    }
    if ($SendConnector -or $AllSendConnectors) {
        $found = @(Invoke-Exchange 'Get-SendConnector' @{})
        if (-not $AllSendConnectors) {
            $found = @($found | Where-Object { [string]$_.Name -eq $SendConnector })
        }
        $state.send_connectors = @($found | ForEach-Object { Read-SendConnector $_ })
    }
    if ($TransportService) {
        $state.transport_service = Read-TransportService (Invoke-Exchange 'Get-TransportService' @{ Identity = $Server })
    }
    if ($AcceptedDomains) {
        $state.accepted_domains = @(Invoke-Exchange 'Get-AcceptedDomain' @{} | ForEach-Object { Read-AcceptedDomain $_ })
    }
    if ($Principals.Count -gt 0) {
        $translated = [ordered]@{}
        foreach ($principal in $Principals) {
            $translated[$principal] = Get-PrincipalSid $principal
        }
        $state.principal_sids = $translated
    }
    return $state
}
#endregion

# One line per operation: the cmdlet, the only parameters it may receive, and whether it
# needs -Confirm:$false, a connector DN as -Identity, or the smart host credential.
$OperationTable = @{
    new_receive_connector = @{ Cmdlet = 'New-ReceiveConnector'; Parameters = @('Name', 'Server', 'TransportRole', 'Custom', 'Bindings', 'RemoteIPRanges', 'PermissionGroups', 'AuthMechanism', 'RequireTLS', 'Fqdn', 'MaxMessageSize', 'Enabled') }
    set_receive_connector = @{ Cmdlet = 'Set-ReceiveConnector'; Parameters = @('Identity', 'Bindings', 'RemoteIPRanges', 'PermissionGroups', 'AuthMechanism', 'RequireTLS', 'Fqdn', 'MaxMessageSize', 'Enabled') }
    remove_receive_connector = @{ Cmdlet = 'Remove-ReceiveConnector'; Parameters = @('Identity'); Confirm = $true }
    add_ad_permission = @{ Cmdlet = 'Add-ADPermission'; Parameters = @('User', 'ExtendedRights', 'Deny'); Target = $true; Confirm = $true }
    remove_ad_permission = @{ Cmdlet = 'Remove-ADPermission'; Parameters = @('User', 'ExtendedRights', 'Deny'); Target = $true; Confirm = $true }
    new_send_connector = @{ Cmdlet = 'New-SendConnector'; Parameters = @('Name', 'Usage', 'AddressSpaces', 'DNSRoutingEnabled', 'SmartHosts', 'Port', 'RequireTLS', 'IgnoreSTARTTLS', 'TlsAuthLevel', 'TlsDomain', 'SmartHostAuthMechanism', 'UseExternalDNSServersEnabled', 'SourceTransportServers', 'MaxMessageSize', 'Fqdn', 'Enabled'); Credential = $true }
    set_send_connector = @{ Cmdlet = 'Set-SendConnector'; Parameters = @('Identity', 'AddressSpaces', 'DNSRoutingEnabled', 'SmartHosts', 'Port', 'RequireTLS', 'IgnoreSTARTTLS', 'TlsAuthLevel', 'TlsDomain', 'SmartHostAuthMechanism', 'UseExternalDNSServersEnabled', 'SourceTransportServers', 'MaxMessageSize', 'Fqdn', 'Enabled'); Credential = $true }
    remove_send_connector = @{ Cmdlet = 'Remove-SendConnector'; Parameters = @('Identity'); Confirm = $true }
    set_transport_service = @{ Cmdlet = 'Set-TransportService'; Parameters = @('Identity', 'ExternalDNSServers', 'ExternalDNSAdapterEnabled', 'ExternalDNSProtocolOption', 'InternalDNSServers', 'InternalDNSAdapterEnabled', 'InternalDNSProtocolOption') }
    new_accepted_domain = @{ Cmdlet = 'New-AcceptedDomain'; Parameters = @('Name', 'DomainName', 'DomainType') }
    set_accepted_domain = @{ Cmdlet = 'Set-AcceptedDomain'; Parameters = @('Identity', 'DomainType', 'MatchSubDomains', 'MakeDefault') }
    remove_accepted_domain = @{ Cmdlet = 'Remove-AcceptedDomain'; Parameters = @('Identity'); Confirm = $true }
}

function Invoke-Operation($Operation, [hashtable]$CreatedConnector) {
    $kind = [string]$Operation.op
    if (-not $OperationTable.ContainsKey($kind)) {
        Stop-Payload 'bad_operation' ('unknown operation {0}' -f $kind)
    }
    $spec = $OperationTable[$kind]
    $arguments = @{}
    if ($null -ne $Operation.parameters) {
        foreach ($name in @($Operation.parameters.Keys)) {
            if ($spec.Parameters -notcontains $name) {
                Stop-Payload 'bad_operation' ('{0} may not set {1}' -f $kind, $name)
            }
            $arguments[$name] = $Operation.parameters[$name]
        }
    }
    if ($spec.Target) {
        # Permissions are changed on the connector's exact directory object, never on a name.
        if ($Operation.target_new) {
            if (-not $CreatedConnector.ContainsKey([string]$Operation.target_new)) {
                Stop-Payload 'bad_operation' ('{0}: {1} was not created in this call' -f $kind, $Operation.target_new)
            }
            $arguments.Identity = $CreatedConnector[[string]$Operation.target_new]
        }
        elseif ($Operation.target_dn) {
            $arguments.Identity = [string]$Operation.target_dn
        }
        else {
            Stop-Payload 'bad_operation' ('{0} needs target_dn or target_new' -f $kind)
        }
    }
    if ($null -ne $Operation.credential) {
        if (-not $spec.Credential -or [string]$Operation.credential.secret -ne 'SmartHostPassword' -or $null -eq $SmartHostPassword) {
            Stop-Payload 'bad_operation' ('{0}: no smart host credential available' -f $kind)
        }
        $arguments.AuthenticationCredential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$Operation.credential.username), $SmartHostPassword
    }
    if ($spec.Confirm) {
        $arguments.Confirm = $false
    }
    $output = Invoke-Exchange $spec.Cmdlet $arguments
    if ($kind -eq 'new_receive_connector') {
        $CreatedConnector[[string]$Operation.identity] = [string]@($output)[0].DistinguishedName
    }
}

try {
    $created = @{}
    foreach ($operation in @($Operations)) {
        Invoke-Operation $operation $created
    }
    $Ansible.Changed = @($Operations).Count -gt 0
    $Ansible.Result = ConvertTo-Json -InputObject (Read-ExchangeState) -Depth 10 -Compress
}
finally {
    if ($null -ne $RemoteSession) {
        Remove-PSSession -Session $RemoteSession -WhatIf:$false
    }
}
